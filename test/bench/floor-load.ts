/**
 * The client half of bench:serial's floor: the same HTTP exchange as a
 * registration (request-id, then a serial request of the real size) against
 * a server that answers fixed bytes, with no signing and no assertion work.
 *
 *   node floor-load.js URL REQUEST_BYTES CONCURRENCY SECONDS
 *
 * Prints one JSON line: { count, cpuMs }.
 */
import { poster } from './http-post.js';

const [url, requestBytes, concurrency, seconds] = process.argv.slice(2) as [string, string, string, string];
const { post, close } = poster(url);
const body = Buffer.alloc(Number(requestBytes), 'a');
let count = 0;
const end = performance.now() + Number(seconds) * 1000;
const cpuAtBegin = process.cpuUsage();
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (performance.now() < end) {
      const idRes = await post('request-id', { 'api-key': 'floor' });
      JSON.parse(idRes.body.toString('utf8'));
      const res = await post('serial', { 'api-key': 'floor', 'Content-Type': 'application/x.ubuntu.assertion' }, body);
      if (res.status === 200) count++;
    }
  }),
);
const cpu = process.cpuUsage(cpuAtBegin);
console.log(JSON.stringify({ count, cpuMs: (cpu.user + cpu.system) / 1000 }));
close();
