/**
 * npm run bench:sync: central and an appliance, each its own process
 * (test/support/sync-cluster.ts: central on PostgreSQL, the appliance on
 * SQLite with its own SoftHSM2 token, a TCP proxy between them that does
 * nothing here but forward), measuring:
 *
 * - initial sync: central is seeded with bulk inserts into the real tables
 *   (the capture triggers fill the feed as any write would): 100,000 catalog
 *   rows (25,000 snaps of the demo store, a revision each, two channel heads
 *   each) and 10,000 people, each with a role on the demo store (so that the
 *   appliance is entitled to them). Then a new appliance is enrolled and
 *   started; timed from `serve` until all those rows are in its database
 *   (if `appliance enrol` already brought them, from the start of enrolment).
 *   Peak RSS: VmHWM of the appliance's processes;
 * - change latency: 200 changes on central (a snap row each, one at a time),
 *   each timed until the appliance's database holds it: p50, p99;
 * - push throughput: 50,000 issuance rows written into the appliance's own
 *   log at once, timed until central holds them all; in the same run, the
 *   same rows by a raw multi-row `INSERT … ON CONFLICT DO NOTHING` (1,000 per
 *   statement, a transaction per 10,000) into the same table of the same
 *   PostgreSQL.
 *
 * Last line: RESULT initial_s=<…> change_p99_ms=<…> push_ratio=<push rows/s ÷ raw insert rows/s>
 * Goals: change_p99_ms < 2000, push_ratio ≥ 0.5, initial sync RSS < 300 MB.
 *
 * PostgreSQL: a throwaway server, as the tests use. With PGHOST (and PGPORT,
 * PGUSER, PGPASSWORD) set, that server is used (a fresh database in it);
 * without, the bench runs itself again under scripts/with-postgres.sh
 * (Debian's pg_virtualenv). Sizes: BENCH_SYNC_SNAPS (25000),
 * BENCH_SYNC_PEOPLE (10000), BENCH_SYNC_CHANGES (200), BENCH_SYNC_PUSH_ROWS
 * (50000).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import knex, { type Knex } from 'knex';
import { DEMO, SYNC_COMMANDS, SyncCluster, sleep, type Appliance } from '../support/sync-cluster.js';
import { fmt } from './measure.js';

const root = resolve(import.meta.dirname, '..', '..', '..');
process.chdir(root);


const SNAPS = Number(process.env['BENCH_SYNC_SNAPS'] ?? 25_000);
const PEOPLE = Number(process.env['BENCH_SYNC_PEOPLE'] ?? 10_000);
const CHANGES = Number(process.env['BENCH_SYNC_CHANGES'] ?? 200);
const PUSH_ROWS = Number(process.env['BENCH_SYNC_PUSH_ROWS'] ?? 50_000);
const CHANNELS = ['latest/stable', 'latest/edge'];

const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

const vmHwmMb = (pid: number | undefined): number => {
  if (pid === undefined) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // gone already
  }
};

/** 25,000 snaps × (snap + revision + 2 channel heads) = 100,000 catalog rows; people with a viewer role each. */
async function seedCentral(db: Knex): Promise<number> {
  const now = new Date().toISOString();
  let rows = 0;
  await db.transaction(async (trx) => {
    for (let start = 0; start < SNAPS; start += 1000) {
      const batch = Array.from({ length: Math.min(1000, SNAPS - start) }, (_, k) => start + k);
      const ids = (await trx('snaps')
        .insert(batch.map((i) => ({ snap_id: `bench${String(i).padStart(27, '0')}`, name: `bench-snap-${i}`, store_id: DEMO.store, type: 'app', private: false, publisher: 'operator', publisher_id: DEMO.brand, collaborators: '[]', created_at: now })))
        .returning('id')) as Array<number | { id: number }>;
      const pks = ids.map((x) => (typeof x === 'object' ? x.id : x));
      const revisions = pks.map((pk) => ({ snap: pk, revision: 1, sha3_384: randomBytes(48).toString('base64url'), size: 4096, version: '1.0', architectures: JSON.stringify(['amd64']), grade: 'stable', confinement: 'strict', base: 'core22', epoch: '0', provenance: 'global-upload', snap_yaml: 'name: x\nversion: 1.0\n', status: 'approved', uploaded_by: 'operator', upload_id: null, reviewed_by: null, review_reason: null, created_at: now, reviewed_at: null }));
      await trx.batchInsert('snap_revisions', revisions, 500);
      await trx.batchInsert('channel_heads', pks.flatMap((pk) => CHANNELS.map((channel) => ({ snap: pk, channel, architecture: 'amd64', revision: 1 }))), 1000);
      rows += batch.length * (2 + CHANNELS.length);
    }
    for (let start = 0; start < PEOPLE; start += 1000) {
      const batch = Array.from({ length: Math.min(1000, PEOPLE - start) }, (_, k) => start + k);
      const ids = (await trx('people').insert(batch.map((i) => ({ email: `person-${i}@bench.test`, display_name: `Person ${i}`, status: 'active', created_at: now }))).returning('id')) as Array<number | { id: number }>;
      await trx('role_grants').insert(ids.map((x) => ({ person_id: typeof x === 'object' ? x.id : x, store_id: DEMO.store, role: 'viewer', created_at: now })));
    }
  });
  return rows;
}

/** Whether the appliance holds everything seeded. */
async function initialSyncDone(cluster: SyncCluster, a: Appliance): Promise<boolean> {
  return cluster.applianceDb(a, async (db) => {
    const count = async (q: Knex.QueryBuilder) => Number(((await q.count({ n: '*' }).first()) as { n: unknown }).n);
    const snaps = await count(db('snaps').where('name', 'like', 'bench-snap-%'));
    if (snaps < SNAPS) return false;
    const heads = await count(db('channel_heads as h').join('snaps as s', 's.id', 'h.snap').where('s.name', 'like', 'bench-snap-%'));
    const revisions = await count(db('snap_revisions as r').join('snaps as s', 's.id', 'r.snap').where('s.name', 'like', 'bench-snap-%'));
    const people = await count(db('people').where('email', 'like', '%@bench.test'));
    const grants = await count(db('role_grants as g').join('people as p', 'p.id', 'g.person_id').where('p.email', 'like', '%@bench.test'));
    return heads === SNAPS * CHANNELS.length && revisions === SNAPS && people === PEOPLE && grants === PEOPLE;
  }).catch(() => false);
}

async function main(): Promise<void> {
  const cluster = await SyncCluster.start({ appliances: [], logLevel: 'warn' });
  try {
    const pg = cluster.centralDb();
    let t = performance.now();
    const seeded = await seedCentral(pg);
    console.log(`seeded central: ${seeded} catalog rows and ${PEOPLE} people (+ ${PEOPLE} role grants) in ${fmt((performance.now() - t) / 1000)} s`);

    // ---- initial sync of a new appliance
    let peak = 0;
    const pids = new Set<number>();
    const sampler = setInterval(() => {
      for (const pid of pids) peak = Math.max(peak, vmHwmMb(pid));
    }, 100);
    const enrolStart = performance.now();
    const a = await cluster.enrolAppliance('bench-appliance', { upstream: { pushEverySeconds: 0.05 }, logLevel: 'warn', onEnrolPid: (pid) => pids.add(pid) });
    const enrolS = (performance.now() - enrolStart) / 1000;
    const broughtByEnrol = await initialSyncDone(cluster, a);
    const serveStart = performance.now();
    await a.process.start();
    pids.add(a.process.pid!);
    const listeningS = (performance.now() - serveStart) / 1000;
    await cluster.waitFor('the appliance to hold every seeded row', () => initialSyncDone(cluster, a), { timeoutMs: 1_800_000, intervalMs: 250 });
    const initialS = broughtByEnrol ? enrolS : (performance.now() - serveStart) / 1000;
    peak = Math.max(peak, vmHwmMb(a.process.pid));
    clearInterval(sampler);
    console.log(
      `initial sync: ${seeded} catalog rows + ${PEOPLE} people to a new appliance in ${fmt(initialS)} s ` +
        `(enrol ${fmt(enrolS)} s${broughtByEnrol ? ', which brought the rows' : ''}; serve listening after ${fmt(listeningS)} s), peak RSS ${fmt(peak)} MB (goal < 300)`,
    );

    // ---- change latency
    const appliance = knex({ client: 'sqlite3', connection: { filename: join(a.dataDir, 'vault.db') }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
    const latencies: number[] = [];
    try {
      const now = new Date().toISOString();
      for (let i = 0; i < CHANGES; i++) {
        const name = `change-${i}`;
        t = performance.now();
        await pg('snaps').insert({ snap_id: `change${String(i).padStart(26, '0')}`, name, store_id: DEMO.store, type: 'app', private: false, publisher: 'operator', publisher_id: DEMO.brand, collaborators: '[]', created_at: now });
        for (;;) {
          if (await appliance('snaps').where({ name }).first()) break;
          if (performance.now() - t > 60_000) throw new Error(`change ${name} did not reach the appliance in 60 s`);
          await sleep(2);
        }
        latencies.push(performance.now() - t);
        // Changes a little apart, as edits on central come, not one batch.
        await sleep(20);
      }
    } finally {
      await appliance.destroy();
    }
    const p50 = pct(latencies, 50);
    const p99 = pct(latencies, 99);
    console.log(`change latency over ${CHANGES} changes: p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms, max ${fmt(Math.max(...latencies))} ms (goal p99 < 2000)`);

    // ---- push throughput, then the raw insert of the same rows
    const issuedAt = new Date().toISOString();
    const row = (i: number) => ({ brand_id: DEMO.brand, model: DEMO.model, serial: `PUSH-${String(i).padStart(8, '0')}`, device_key_id: `pushkey${String(i).padStart(57, '0')}`, signing_key_id: 'bench-signing-key', outcome: 'issued', request_id: null, issued_at: issuedAt });
    const before = await cluster.centralCount('issuance_log', (q) => q.where({ origin: SYNC_COMMANDS.originOf(a.name) }));
    await cluster.applianceDb(a, async (db) => {
      await db.transaction(async (trx) => {
        for (let start = 0; start < PUSH_ROWS; start += 500) await trx('issuance_log').insert(Array.from({ length: Math.min(500, PUSH_ROWS - start) }, (_, k) => row(start + k)));
      });
    });
    t = performance.now();
    await cluster.waitFor('central to hold every pushed row', async () => (await cluster.centralCount('issuance_log', (q) => q.where({ origin: SYNC_COMMANDS.originOf(a.name) }))) - before >= PUSH_ROWS, { timeoutMs: 1_800_000, intervalMs: 50 });
    const pushS = (performance.now() - t) / 1000;
    const pushRate = PUSH_ROWS / pushS;

    const columns = ['brand_id', 'model', 'serial', 'device_key_id', 'signing_key_id', 'outcome', 'request_id', 'issued_at', 'origin', 'origin_seq'];
    t = performance.now();
    for (let start = 0; start < PUSH_ROWS; start += 10_000) {
      await pg.transaction(async (trx) => {
        for (let s = start; s < Math.min(start + 10_000, PUSH_ROWS); s += 1000) {
          const n = Math.min(1000, PUSH_ROWS - s);
          const values: unknown[] = [];
          const tuples: string[] = [];
          for (let k = 0; k < n; k++) {
            const r = row(s + k);
            values.push(r.brand_id, r.model, r.serial, r.device_key_id, r.signing_key_id, r.outcome, r.request_id, r.issued_at, 'bench-raw', s + k + 1);
            tuples.push(`(${columns.map(() => '?').join(', ')})`);
          }
          await trx.raw(`INSERT INTO issuance_log (${columns.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (origin, origin_seq) DO NOTHING`, values as Knex.RawBinding[]);
        }
      });
    }
    const rawS = (performance.now() - t) / 1000;
    const rawRate = PUSH_ROWS / rawS;
    const ratio = pushRate / rawRate;
    console.log(`push: ${PUSH_ROWS} issuance rows in ${fmt(pushS, 2)} s = ${fmt(pushRate, 0)} rows/s; raw INSERT … ON CONFLICT DO NOTHING of the same rows: ${fmt(rawS, 2)} s = ${fmt(rawRate, 0)} rows/s; ratio ${fmt(ratio, 3)} (goal ≥ 0.5)`);

    console.log(`RESULT initial_s=${fmt(initialS, 2)} change_p99_ms=${fmt(p99)} push_ratio=${fmt(ratio, 3)}`);
  } catch (e) {
    // What the processes said, before their directories go.
    for (const p of [...cluster.replicas, ...cluster.appliances.map((x) => x.process)]) console.error(`--- ${p.name} (${p.crashes.join(', ') || 'running'})\n${p.logs().slice(-3000)}`);
    throw e;
  } finally {
    await cluster.close();
  }
}

if (!process.env['PGHOST']) {
  // Runs again with a throwaway PostgreSQL cluster, removed afterwards.
  const child = spawn(join(root, 'scripts', 'with-postgres.sh'), [process.execPath, fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exitCode = await new Promise<number>((r) => child.on('exit', (code) => r(code ?? 1)));
} else {
  await main();
}
