/**
 * The load generator of bench:store, run as its own process so its work is
 * not counted in the server's.
 *
 *   node store-load.js refresh URL WORK_FILE closed CONCURRENCY SECONDS
 *   node store-load.js refresh URL WORK_FILE open RATE SECONDS
 *   node store-load.js download FILE_URL TOKEN CONCURRENCY ROUNDS
 *
 * refresh: snap actions as snapd sends them on auto-refresh, each from a
 * device (session token) picked at random, with a context of 50 installed
 * snaps (random, some up to date and some not) and one refresh action per
 * snap. WORK_FILE is JSON { tokens: [...], snapIds: [...] }.
 * A refresh run first drives the same load for STORE_LOAD_WARMUP seconds
 * (default 1) without counting it, then prints a line `measuring` and
 * measures. This process is new for every run: its first requests open
 * the connections and run its code cold, and a fleet's steady load has
 * neither (seen: 300 ms of answers up to 300 ms slow, 2.6% of an 8 s
 * open loop, enough to set its p99 alone). The warm-up's own p99 is
 * reported beside the measured one.
 * download: CONCURRENCY clients each fetch the file ROUNDS times.
 * Prints one JSON line: { count, errors, causes (count by cause), seconds, rate, p50, p99, warmupP99, bytes, mbPerS }.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

const [kind, url, a3, a4, a5, a6] = process.argv.slice(2) as [string, string, string, string, string, string?];
// At most 64 connections, as from a proxy in front of the store: a burst queues here (its wait counted in the latency) instead of opening hundreds of sockets.
// Idle sockets are let go before the store's 5 s keep-alive ends, as a proxy's are; without a timeout of its own,
// Node's agent ignores the server's Keep-Alive hint, and a request sent on a socket the store is closing gets ECONNRESET.
const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });
const target = new URL(url);

function send(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; bytes: number; text?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path, method, agent, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } }, (res) => {
      let bytes = 0;
      // Only the answer's start is kept (to check it and to name a failure): copying and decoding
      // every 50 kB answer would spend the CPU the server shares with this process on two cores.
      let head = '';
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (method === 'POST' && head.length < 200) head += c.subarray(0, 200).toString('latin1');
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ...(method === 'POST' ? { text: head } : {}) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const latencies: number[] = [];
/** Latencies of the warm-up (refresh runs), kept apart from the measured ones. */
const warmup: number[] = [];
/** STORE_LOAD_TRACE=PREFIX: each answered request's start (ms into the run) and latency, to see when the slow ones come; written to PREFIX-<mode>-<amount>.json, one file per run. */
const trace: Array<[number, number]> | undefined = process.env['STORE_LOAD_TRACE'] ? [] : undefined;
let errors = 0;
/** Why requests failed, counted by cause, so a run with errors says what they were. */
const causes = new Map<string, number>();
const failed = (cause: string) => {
  errors++;
  causes.set(cause, (causes.get(cause) ?? 0) + 1);
};
const causeOf = (e: unknown) => (e as { code?: string }).code ?? (e instanceof Error ? e.message : String(e));
let bytes = 0;
let begin = performance.now();
let cpuAtBegin = process.cpuUsage();

if (kind === 'refresh') {
  const work = JSON.parse(readFileSync(a3, 'utf8')) as { tokens: string[]; snapIds: string[] };
  const mode = a4 as 'closed' | 'open';
  const amount = Number(a5);
  const seconds = Number(a6);
  const path = `${target.pathname}v2/snaps/refresh`;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)] as T;
  // Bodies made before the clock starts, so the generator spends its CPU on sending, not on JSON.
  const bodies = Array.from({ length: 2000 }, () => {
    const ids = new Set<string>();
    while (ids.size < 50) ids.add(pick(work.snapIds));
    const context = [...ids].map((id) => ({ 'snap-id': id, 'instance-key': id, revision: Math.random() < 0.5 ? 1 : 2, 'tracking-channel': 'latest/stable', epoch: { read: [0], write: [0] }, 'refreshed-date': '2026-11-01T00:00:00Z' }));
    const actions = [...ids].map((id) => ({ action: 'refresh', 'instance-key': id, 'snap-id': id }));
    return Buffer.from(JSON.stringify({ context, actions, fields: ['architectures', 'base', 'confinement', 'download', 'epoch', 'name', 'revision', 'snap-id', 'snap-yaml', 'type', 'version'] }));
  });
  let sent = 0;
  const one = async (into: number[]) => {
    const body = bodies[sent++ % bodies.length] as Buffer;
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'Snap-Device-Authorization': `Macaroon root="${pick(work.tokens)}"`, 'Snap-Device-Architecture': 'amd64', 'Snap-Device-Series': '16', 'Snap-Device-Store': 'demo-brand', 'Snap-Refresh-Reason': 'scheduled' };
    const start = performance.now();
    try {
      const res = await send('POST', path, headers, body);
      if (res.status !== 200 || !res.text?.startsWith('{"results":[')) failed(`HTTP ${res.status}: ${(res.text ?? '').slice(0, 120)}`);
      else {
        into.push(performance.now() - start);
        if (into === latencies) trace?.push([start - begin, performance.now() - start]);
      }
    } catch (e) {
      failed(causeOf(e));
    }
  };
  const drive = async (ms: number, into: number[]) => {
    const from = performance.now();
    const end = from + ms;
    if (mode === 'closed') {
      await Promise.all(Array.from({ length: amount }, async () => {
        while (performance.now() < end) await one(into);
      }));
    } else {
      // Open loop: arrivals at a fixed rate whatever the answers, as a fleet's timers fire.
      const interval = 1000 / amount;
      const inFlight: Promise<void>[] = [];
      for (let t = from; t < end; t += interval) {
        const wait = t - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        inFlight.push(one(into));
      }
      await Promise.all(inFlight);
    }
  };
  await drive(Number(process.env['STORE_LOAD_WARMUP'] ?? 1) * 1000, warmup);
  process.stdout.write('measuring\n');
  begin = performance.now();
  cpuAtBegin = process.cpuUsage();
  await drive(seconds * 1000, latencies);
} else {
  const token = a3;
  const concurrency = Number(a4);
  const rounds = Number(a5);
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      try {
        const res = await send('GET', `${target.pathname}${target.search}`, { 'X-Device-Authorization': `Macaroon root="${token}"` });
        if (res.status !== 200) failed(`HTTP ${res.status}`);
        else {
          bytes += res.bytes;
          latencies.push(performance.now() - start);
        }
      } catch (e) {
        failed(causeOf(e));
      }
    }
  }));
}

const elapsed = (performance.now() - begin) / 1000;
if (trace && kind === 'refresh') writeFileSync(`${process.env['STORE_LOAD_TRACE'] as string}-${a4}-${Math.round(Number(a5))}.json`, JSON.stringify(trace));
for (const xs of [latencies, warmup]) xs.sort((a, b) => a - b);
const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const cpu = process.cpuUsage(cpuAtBegin);
console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, count: latencies.length, errors, causes: Object.fromEntries(causes), seconds: elapsed, rate: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), warmupP99: percentile(warmup, 99), bytes, mbPerS: bytes / 1e6 / elapsed }));
agent.destroy();
