/**
 * npm run bench:store: the store listener under a fleet's load.
 *
 * A catalog of 10,000 snaps (two amd64 revisions each, the newer on
 * latest/stable) and 1,000 devices with sessions. A load generator in its
 * own process sends snap actions as snapd's auto-refresh does: a 50-snap
 * context and a refresh action per snap, half of them out of date. First
 * closed loops find the best rate, then an open loop at 80% of it gives the
 * p99 a fleet sees (the median of three such loops, each at 80% of a closed
 * loop run just before it: this machine's speed drifts within minutes). Each refresh run is a new load generator process that
 * first drives its load for a second uncounted (it opens its connections and
 * runs its code cold then, which a fleet's steady load does not); the server's
 * CPU is read over the measured part only. Then a real 50 MB .snap is downloaded by 8 concurrent
 * clients from the store, and in the same run from a bare node:http server
 * that streams the same file with fs.createReadStream.
 * A floor line shows what the harness allows a server of the same CPU cost
 * per request that never collects garbage.
 * Last line: RESULT refresh_per_s=<best> refresh_p99_ms=<at 80%> download_ratio=<ours ÷ bare>.
 * Goals: refresh_p99_ms < 50 at 80% of the best rate, download_ratio ≥ 0.8.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tuneHeapForServing } from '../../src/main.js';
import { publish, startStoreVault } from '../support/store.js';
import { testDataDir } from '../support/vault.js';

const SNAPS = Number(process.env['BENCH_SNAPS'] ?? 10_000);
const DEVICES = Number(process.env['BENCH_DEVICES'] ?? 1000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const DOWNLOAD_MB = Number(process.env['BENCH_DOWNLOAD_MB'] ?? 50);
const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 9);
/** Odd, so the median is one of them. */
const OPEN_RUNS = Math.max(1, Number(process.env['BENCH_OPEN_RUNS'] ?? 3)) | 1;
const load = join(import.meta.dirname, 'store-load.js');

interface LoadResult {
  count: number;
  errors: number;
  /** Failed requests by cause (status and body, or the socket error). */
  causes: Record<string, number>;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  /** p99 of the warm-up before the measured part (refresh runs), not counted. */
  warmupP99?: number;
  mbPerS: number;
  cpuMs: number;
}
/**
 * Where the load generator and the server run. The load generator shares
 * this machine, and when the scheduler puts it on the store's core the
 * store's figures say more about the scheduler than about the store (seen:
 * download pairs from 0.62 to 1.57). So it runs on the last CPU; the store
 * may use them all, except during the download pairs, where both servers
 * (ours and the bare one, both in this process) keep to the others, alike.
 * BENCH_PIN=0 turns this off; it needs two CPUs and taskset.
 */
const pinning = ((): { load: string; servers: string; all: string } | undefined => {
  // The CPUs this process may use (not always 0…n-1), from the kernel's own list.
  const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  const cpus = (allowed ?? '').split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number) as [number, number?];
    return Array.from({ length: (b ?? a) - a + 1 }, (_, k) => a + k);
  });
  if (process.env['BENCH_PIN'] === '0' || !allowed || cpus.length < 2 || spawnSync('taskset', ['-V']).status !== 0) return undefined;
  return { load: String(cpus.at(-1)), servers: cpus.slice(0, -1).join(','), all: allowed };
})();
/** This process's threads, all of them, on `cpus`. */
const pinServers = (cpus: string | undefined) => {
  if (cpus) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
};

/**
 * One run of the load generator. A refresh run warms up first and prints
 * `measuring` when its measured part starts: `measuring` is called then, so
 * the server's CPU is read over the same part.
 */
function loadRun(args: string[], measuring?: () => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const argv = [process.execPath, load, ...args];
    const child = pinning ? spawn('taskset', ['-c', pinning.load, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.startsWith('measuring\n') && measuring) {
        measuring();
        measuring = undefined;
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the load generator exited with ${String(code)}`));
      try {
        resolve(JSON.parse(out.replace(/^measuring\n/, '')) as LoadResult);
      } catch {
        reject(new Error(`the load generator printed no result: ${out.slice(0, 200)}`));
      }
    });
  });
}
/** A closed loop of snap actions against the store, which must answer every one. */
async function closedLoop(url: string, work: string, concurrency: number, seconds: number, measuring?: () => void): Promise<LoadResult> {
  const r = await loadRun(['refresh', url, work, 'closed', String(concurrency), String(seconds)], measuring);
  if (r.errors > 0) throw new Error(`the store answered ${r.errors} snap actions with an error: ${JSON.stringify(r.causes)}`);
  return r;
}
const f = (n: number, d = 1) => n.toFixed(d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** BENCH_PROFILE=PREFIX: a CPU profile of the server during each open loop, written to PREFIX-<fraction>.cpuprofile. */
async function startProfile(): Promise<() => Promise<unknown>> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    return profile;
  };
}

/** The server's CPU (this process: the store runs in it) over a load run's measured part, from `start()`: share of a core, and ms per answered request. */
function serverCpu(): { start: () => void; msPerRequest: (r: LoadResult) => number; text: (r: LoadResult) => string } {
  let before = process.cpuUsage();
  const ms = () => {
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000;
  };
  return {
    start: () => {
      before = process.cpuUsage();
    },
    msPerRequest: (r) => ms() / r.count,
    text: (r) => `${f(ms() / r.seconds / 10)}% (${f(ms() / r.count, 2)} ms per request)`,
  };
}

/**
 * The p99 a server with our CPU cost per request but no garbage collector
 * gets from this harness: it busy-waits `cpuMs` per request and answers a
 * fixed body, measured as the store is (best closed-loop rate, then an open
 * loop at 80% of it). The gap between its p99 and ours is what our
 * allocation and GC pauses cost, not queueing the goal itself implies.
 */
async function latencyFloor(work: string, cpuMs: number): Promise<{ best: number; p99: number }> {
  const answer = Buffer.from(`{"results":[${Array.from({ length: 25 }, (_, i) => JSON.stringify({ result: 'refresh', 'instance-key': `k${i}`, snap: { name: `s${i}`, 'snap-yaml': 'y'.repeat(800) } })).join(',')}]}`);
  const spin = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const t = performance.now();
      while (performance.now() - t < cpuMs);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(answer.length) });
      res.end(answer);
    });
  });
  await new Promise<void>((r) => spin.listen(0, '127.0.0.1', () => r()));
  try {
    const url = `http://127.0.0.1:${(spin.address() as AddressInfo).port}/`;
    let best = 0;
    for (const c of [16, 64]) best = Math.max(best, (await loadRun(['refresh', url, work, 'closed', String(c), String(SECONDS)])).rate);
    return { best, p99: (await loadRun(['refresh', url, work, 'open', String(best * 0.8), String(SECONDS)])).p99 };
  } finally {
    spin.close();
  }
}

const dir = testDataDir();
// The store runs in this process: tuned as `serve` tunes its own.
tuneHeapForServing();
const tv = await startStoreVault(dir, { log: { level: 'warn' } } as never);
try {
  const { db } = tv.vault;
  const t0 = performance.now();
  const snapIds: string[] = [];
  const yaml = (i: number, v: number) => `name: fleet-snap-${i}\nversion: '${v}.0'\nsummary: A snap of the benchmark fleet\ndescription: |\n  Installed on every device of the line.\nbase: core22\nconfinement: strict\ngrade: stable\narchitectures: [amd64]\napps:\n  fleet-snap-${i}:\n    command: bin/run\n    plugs: [network]\n`;
  await db.transaction(async (trx) => {
    const now = new Date().toISOString();
    for (let start = 0; start < SNAPS; start += 200) {
      const batch = Array.from({ length: Math.min(200, SNAPS - start) }, (_, k) => start + k);
      const rows = batch.map((i) => ({ snap_id: `fleet${String(i).padStart(27, '0')}`, name: `fleet-snap-${i}`, store_id: 'demo-brand', type: 'app', private: false, publisher: 'operator', publisher_id: 'demo-brand', collaborators: '[]', created_at: now }));
      snapIds.push(...rows.map((r) => r.snap_id));
      const ids = (await trx('snaps').insert(rows).returning('id')) as Array<number | { id: number }>;
      const pks = ids.map((x) => (typeof x === 'object' ? x.id : x));
      const revisions = pks.flatMap((pk, k) =>
        [1, 2].map((revision) => ({ snap: pk, revision, sha3_384: Buffer.alloc(48, (pk * 2 + revision) % 251).toString('base64url'), size: 4096 * revision, version: `${revision}.0`, architectures: '["amd64"]', grade: 'stable', confinement: 'strict', base: 'core22', epoch: '0', provenance: 'global-upload', snap_yaml: yaml(batch[k] as number, revision), status: 'approved', uploaded_by: 'operator', upload_id: null, reviewed_by: null, review_reason: null, created_at: now, reviewed_at: null })),
      );
      await trx.batchInsert('snap_revisions', revisions, 100);
      await trx.batchInsert('channel_heads', pks.map((pk) => ({ snap: pk, channel: 'latest/stable', architecture: 'amd64', revision: 2 })), 200);
    }
  });
  const tokens: string[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const { token } = await tv.vault.store.sessions.sessions.create({ brandId: 'demo-brand', model: 'demo-model', serial: `FLEET-${i}`, deviceKeyId: `fleet-key-${i}`, storeId: 'demo-brand' });
    tokens.push(token);
  }
  const work = join(dir, 'work.json');
  writeFileSync(work, JSON.stringify({ tokens, snapIds }));
  console.log(`store benchmark: ${SNAPS} snaps, ${DEVICES} devices with sessions, built in ${f((performance.now() - t0) / 1000)} s; node ${process.version}; ${pinning ? `load generator on CPU ${pinning.load}, servers on CPUs ${pinning.all} (${pinning.servers} during downloads)` : 'not pinned to CPUs'}`);

  // Best rate: closed loops at a few concurrencies.
  let best: LoadResult | undefined;
  let bestCpuMs = 0;
  let bestConcurrency = 16;
  for (const c of [4, 16, 64]) {
    const cpu = serverCpu();
    const r = await closedLoop(tv.storeUrl, work, c, SECONDS, cpu.start);
    console.log(`  refresh, ${c} in flight: ${f(r.rate)}/s, p50 ${f(r.p50, 2)} ms, p99 ${f(r.p99, 2)} ms, ${r.errors} errors; load generator CPU ${f(r.cpuMs / r.seconds / 10)}%, server CPU ${cpu.text(r)}`);
    if (!best || r.rate > best.rate) {
      best = r;
      bestCpuMs = cpu.msPerRequest(r);
      bestConcurrency = c;
    }
  }
  // BENCH_OPEN=0.4,0.6 adds open loops at other fractions of the best rate, to see where the latency turns.
  // The one at 80% runs OPEN_RUNS times and its median p99 is the result. Each open loop's rate is taken from a
  // closed loop run just before it, at the concurrency that gave the best: this machine's speed drifts by more
  // than a fifth within minutes (the same closed loop took 0.45 to 1.08 ms of CPU per request in one hour, on
  // the same code), so 80% of a rate measured a minute earlier can be past all the store can do now, and the
  // p99 then measures the drift. The fraction of the run's best is printed as well.
  const extra = (process.env['BENCH_OPEN'] ?? '').split(',').filter(Boolean).map(Number);
  const fractions = [...extra.map((fraction) => ({ fraction, counted: false })), ...Array.from({ length: OPEN_RUNS }, () => ({ fraction: 0.8, counted: true }))];
  let open: LoadResult | undefined;
  const atEighty: LoadResult[] = [];
  for (const { fraction, counted } of fractions) {
    const now = await closedLoop(tv.storeUrl, work, bestConcurrency, Math.max(2, SECONDS / 2));
    const target = now.rate * fraction;
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const profile = process.env['BENCH_PROFILE'] ? await startProfile() : undefined;
    const cpu = serverCpu();
    open = await loadRun(['refresh', tv.storeUrl, work, 'open', String(target), String(SECONDS)], cpu.start);
    if (profile) writeFileSync(`${process.env['BENCH_PROFILE']}-${fraction}.cpuprofile`, JSON.stringify(await profile()));
    loop.disable();
    if (process.env['BENCH_VERBOSE']) {
      console.log(`    server event loop delay: p50 ${f(loop.percentile(50) / 1e6, 1)} ms, p99 ${f(loop.percentile(99) / 1e6, 1)} ms, max ${f(loop.max / 1e6, 1)} ms`);
      const h = (await tv.vault.metrics.httpDuration.get()).values.filter((v) => v.labels['route'] === 'store:snap-action' && String(v.metricName).endsWith('_bucket'));
      console.log(`    server-side latency buckets so far: ${h.map((v) => `≤${String((v.labels as Record<string, unknown>)['le'])}s:${v.value}`).join(' ')}`);
    }
    console.log(`  refresh, open loop at ${f(fraction * 100, 0)}% of the rate just before it (${f(now.rate)}/s at ${bestConcurrency} in flight), ${f(target)}/s, ${f((100 * target) / (best as LoadResult).rate, 0)}% of the run's best: ${f(open.rate)}/s answered, p50 ${f(open.p50, 2)} ms, p99 ${f(open.p99, 2)} ms (warm-up before it, not counted: p99 ${f(open.warmupP99 ?? NaN, 2)} ms), ${open.errors} errors; load generator CPU ${f(open.cpuMs / open.seconds / 10)}%, server CPU ${cpu.text(open)}`);
    if (open.errors > 0) console.log(`    failed: ${JSON.stringify(open.causes)}`);
    if (counted) atEighty.push(open);
  }
  const p99AtEighty = median(atEighty.map((r) => r.p99));
  if (OPEN_RUNS > 1) console.log(`  p99 at 80%: ${f(p99AtEighty, 2)} ms, the median of ${OPEN_RUNS} open loops (${atEighty.map((r) => f(r.p99, 2)).join(', ')})`);
  const floor = await latencyFloor(work, bestCpuMs);
  console.log(`  floor: a bare node:http server spending the same ${f(bestCpuMs, 2)} ms of CPU per request and allocating nothing: best ${f(floor.best)}/s, p99 ${f(floor.p99, 2)} ms at 80% of it (what this harness allows without garbage collection)`);

  // A real 50 MB snap, uploaded and released through the catalog.
  await publish(tv, dir, { name: 'big-snap', payloadBytes: DOWNLOAD_MB * 1024 * 1024 });
  const answer = (await (
    await fetch(`${tv.storeUrl}v2/snaps/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Snap-Device-Authorization': `Macaroon root="${tokens[0]}"` },
      body: JSON.stringify({ context: [], actions: [{ action: 'download', 'instance-key': 'download-1', name: 'big-snap', channel: 'stable', epoch: null }] }),
    })
  ).json()) as { results: Array<{ snap: { download: { url: string } } }> };
  const url = answer.results[0]?.snap.download.url as string;
  const revision = (await tv.vault.store.file({ storeId: 'demo-brand', publicOnly: false }, url.split('/').at(-1)?.split('_')[0] as string, 1)).path;
  const size = statSync(revision).size;
  const bare = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) });
    createReadStream(revision).pipe(res);
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/file.snap`;
  const rounds = String(Math.max(1, Math.round(800 / DOWNLOAD_MB / 8)));
  // Pairs run back to back, which side goes first alternating, the ratio taken per pair and the median kept:
  // this machine's speed drifts between runs by more than the difference measured, and a pair sees the same
  // drift on both sides.
  const ours: number[] = [];
  const theirs: number[] = [];
  const ratios: number[] = [];
  const download = async (target: string, token: string) => {
    const r = await loadRun(['download', target, token, '8', rounds]);
    if (r.errors > 0) throw new Error(`${r.errors} downloads of ${target} failed: ${JSON.stringify(r.causes)}`);
    return r.mbPerS;
  };
  pinServers(pinning?.servers);
  try {
    for (let i = 0; i < PAIRS; i++) {
      if (i % 2 === 0) {
        ours.push(await download(url, tokens[1] as string));
        theirs.push(await download(bareUrl, 'none'));
      } else {
        theirs.push(await download(bareUrl, 'none'));
        ours.push(await download(url, tokens[1] as string));
      }
      ratios.push((ours.at(-1) as number) / (theirs.at(-1) as number));
    }
  } finally {
    pinServers(pinning?.all);
    bare.close();
  }
  const ratio = median(ratios);
  console.log(`  download of a ${f(size / 1e6)} MB snap, 8 clients: store ${f(median(ours))} MB/s, bare node:http ${f(median(theirs))} MB/s (medians of ${PAIRS}); ratio per pair ${ratios.map((r) => f(r, 2)).join(' ')}`);
  console.log(`RESULT refresh_per_s=${f((best as LoadResult).rate)} refresh_p99_ms=${f(p99AtEighty, 2)} download_ratio=${f(ratio, 3)}`);
} finally {
  await tv.close();
}
