/**
 * The load generator of bench:serial, run as its own process so its work is
 * not counted in the server's. Devices register as snapd does (request-id,
 * then serial-request plus model), each with its own key made beforehand.
 *
 *   node serial-load.js URL API_KEY MODEL_FILE KEYS_FILE closed CONCURRENCY SECONDS
 *   node serial-load.js URL API_KEY MODEL_FILE KEYS_FILE open RATE SECONDS
 *
 * Prints one JSON line: { count, errors, seconds, rate, p50, p99, cpuMs,
 * requestBytes, answerBytes } (cpuMs: this process's own CPU time during the
 * run; the sizes: of one serial request and its answer).
 */
import { readFileSync } from 'node:fs';
import { decodeStream, encodeStream, signAssertion } from '../../src/assertions/index.js';
import { readyDeviceKeys } from './device-keys.js';
import { poster } from './http-post.js';

const [url, apiKey, modelFile, keysFile, mode, amount, secondsText] = process.argv.slice(2) as [string, string, string, string, 'closed' | 'open', string, string];
const model = decodeStream(readFileSync(modelFile))[0]!;
const view = model.is('model') ? model.view : undefined;
const keys = await readyDeviceKeys(JSON.parse(readFileSync(keysFile, 'utf8')) as string[]);
const seconds = Number(secondsText);
const { post, close } = poster(url);
let next = 0;
const latencies: number[] = [];
let errors = 0;
/** Sizes of a serial request and of its answer, for the floor measurement. */
let requestBytes = 0;
let answerBytes = 0;
/** Every device key is used once; a run that needs more stops early and says so. */
let exhausted = false;

async function registerOne(): Promise<void> {
  const key = keys[next++];
  if (!key) {
    exhausted = true;
    return;
  }
  const start = performance.now();
  try {
    const idRes = await post('request-id', { 'api-key': apiKey });
    const { 'request-id': id } = JSON.parse(idRes.body.toString('utf8')) as { 'request-id': string };
    const serialRequest = await signAssertion(
      { type: 'serial-request', 'brand-id': view!.brandId, model: view!.model, 'request-id': id, 'device-key': key.publicKey.encoded },
      undefined,
      key,
      { minimumKeyBits: 1024 },
    );
    const body = encodeStream([serialRequest, model]);
    const res = await post('serial', { 'api-key': apiKey, 'Content-Type': 'application/x.ubuntu.assertion', 'Snap-Device-Capabilities': 'serial-stream' }, body);
    if (res.status !== 200 || !res.body.includes('type: serial\n')) errors++;
    else {
      latencies.push(performance.now() - start);
      requestBytes = body.length;
      answerBytes = res.body.length;
    }
  } catch {
    errors++;
  }
}

const begin = performance.now();
const cpuAtBegin = process.cpuUsage();
const end = begin + seconds * 1000;
if (mode === 'closed') {
  await Promise.all(
    Array.from({ length: Number(amount) }, async () => {
      while (performance.now() < end && !exhausted) await registerOne();
    }),
  );
} else {
  // Open loop: arrivals at a fixed rate whatever the answers, as a factory line of devices would.
  const interval = 1000 / Number(amount);
  const inFlight: Promise<void>[] = [];
  for (let t = begin; t < end; t += interval) {
    const wait = t - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(registerOne());
  }
  await Promise.all(inFlight);
}
const elapsed = (performance.now() - begin) / 1000;
const cpu = process.cpuUsage(cpuAtBegin);
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
if (exhausted) process.stderr.write('serial-load: ran out of device keys before the end of the run\n');
console.log(JSON.stringify({ exhausted, count: latencies.length, errors, seconds: elapsed, rate: latencies.length / elapsed, p50: pct(50), p99: pct(99), cpuMs: (cpu.user + cpu.system) / 1000, requestBytes, answerBytes }));
close();
