/**
 * npm run bench:catalog: the offer query on a big catalog, and the upload
 * rate against the raw rate of writing and hashing the same bytes.
 *
 * 10,000 snaps, each with 4 channels × 2 architectures released, spread
 * over a store tree 3 levels deep (brand → product → product) plus an
 * ecosystem store, with some excludes and pins. It times "what does store S
 * offer" for one snap and for a 50-snap refresh context (p50, p99), uploads
 * a real .snap over the admin API on loopback, and, in the same run, writes
 * the same bytes with fs.createWriteStream while hashing them with SHA3-384.
 * Last line: RESULT offer_p99_ms=<50-snap context> upload_ratio=<upload ÷ raw>.
 * Goals: offer_p99_ms < 5, upload_ratio ≥ 0.7.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OPERATOR } from '../../src/accounts/principal.js';
import { startAdminVault, testDataDir } from '../support/vault.js';

const SNAPS = Number(process.env['BENCH_SNAPS'] ?? 10_000);
const QUERIES = Number(process.env['BENCH_QUERIES'] ?? 2000);
const UPLOAD_MB = Number(process.env['BENCH_UPLOAD_MB'] ?? 256);
const CHANNELS = ['latest/stable', 'latest/candidate', 'latest/beta', 'latest/edge'];
const ARCHES = ['amd64', 'arm64'];

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const fmt = (n: number) => n.toFixed(3);

const dir = testDataDir();
const v = await startAdminVault(dir, 'sqlite', { log: { level: 'warn' } } as never);
try {
  const { db, accounts, snaps } = v.vault;
  await accounts.createStore(OPERATOR, { id: 'line-1', name: 'Line 1', parentId: 'demo-brand', kind: 'product' });
  await accounts.createStore(OPERATOR, { id: 'line-1-eu', name: 'Line 1 EU', parentId: 'line-1', kind: 'product' });
  await accounts.addPerson(OPERATOR, 'bench@bench.test', 'Bench');
  await accounts.createStore(OPERATOR, { id: 'partner', name: 'Partner', parentId: 'demo-brand', kind: 'ecosystem', administrators: ['bench@bench.test'] });
  const stores = ['demo-brand', 'line-1', 'line-1-eu', 'partner'];
  const t0 = performance.now();
  await db.transaction(async (trx) => {
    const now = new Date().toISOString();
    for (let start = 0; start < SNAPS; start += 200) {
      const batch = Array.from({ length: Math.min(200, SNAPS - start) }, (_, k) => start + k);
      const ids = (await trx('snaps')
        .insert(batch.map((i) => ({ snap_id: `bench${String(i).padStart(27, '0')}`, name: `bench-snap-${i}`, store_id: stores[i % 4], type: 'app', private: i % 10 === 0, publisher: 'operator', publisher_id: 'demo-brand', collaborators: '[]', created_at: now })))
        .returning('id')) as Array<number | { id: number }>;
      const pks = ids.map((x) => (typeof x === 'object' ? x.id : x));
      const revisions = pks.flatMap((pk) => ARCHES.map((arch, a) => ({ snap: pk, revision: a + 1, sha3_384: randomBytes(48).toString('base64url'), size: 4096, version: '1.0', architectures: JSON.stringify([arch]), grade: 'stable', confinement: 'strict', base: 'core22', epoch: '0', provenance: 'global-upload', snap_yaml: 'name: x\nversion: 1.0\n', status: 'approved', uploaded_by: 'operator', upload_id: null, reviewed_by: null, review_reason: null, created_at: now, reviewed_at: null })));
      await trx.batchInsert('snap_revisions', revisions, 100);
      const heads = pks.flatMap((pk) => CHANNELS.flatMap((channel) => ARCHES.map((architecture, a) => ({ snap: pk, channel, architecture, revision: a + 1 }))));
      await trx.batchInsert('channel_heads', heads, 200);
      const curation = pks.filter((_, k) => k % 50 === 0).map((pk) => ({ store_id: 'line-1-eu', snap: pk, mode: 'exclude', created_by: 'operator', created_at: now }));
      if (curation.length) await trx('store_curation').insert(curation);
      const pins = pks.filter((_, k) => k % 50 === 1).map((pk) => ({ store_id: 'line-1', snap: pk, channel: 'latest/stable', revision: 1 }));
      if (pins.length) await trx('store_pins').insert(pins);
    }
  });
  console.log(`catalog benchmark: ${SNAPS} snaps × ${CHANNELS.length} channels × ${ARCHES.length} architectures in a 3-level store tree, built in ${((performance.now() - t0) / 1000).toFixed(1)} s; node ${process.version}`);

  const name = (i: number) => `bench-snap-${i % SNAPS}`;
  const time = async (names: () => string[], n: number) => {
    const out: number[] = [];
    let found = 0;
    for (let i = 0; i < n; i++) {
      const ns = names();
      const s = performance.now();
      const offered = await snaps.offer('line-1-eu', ns, 'latest/stable', 'amd64');
      out.push(performance.now() - s);
      found += offered.size;
    }
    if (process.env['BENCH_VERBOSE']) console.log(`  p90 ${fmt(pct(out, 90))} p95 ${fmt(pct(out, 95))} max ${fmt(Math.max(...out))}`);
    return { p50: pct(out, 50), p99: pct(out, 99), found: found / n };
  };
  const rnd = () => Math.floor(Math.random() * SNAPS);
  await time(() => [name(rnd())], 200); // warm-up
  const one = await time(() => [name(rnd())], QUERIES);
  const ctx = await time(() => Array.from({ length: 50 }, () => name(rnd())), Math.max(200, QUERIES / 4));
  console.log(`offer, 1 snap:       p50 ${fmt(one.p50)} ms  p99 ${fmt(one.p99)} ms  (${one.found.toFixed(2)} offered per query)`);
  console.log(`offer, 50-snap ctx:  p50 ${fmt(ctx.p50)} ms  p99 ${fmt(ctx.p99)} ms  (${ctx.found.toFixed(1)} offered per query)`);

  // A real .snap of UPLOAD_MB of incompressible bytes.
  const src = join(dir, 'big-src');
  mkdirSync(join(src, 'meta'), { recursive: true });
  writeFileSync(join(src, 'meta', 'snap.yaml'), 'name: bench-upload\nversion: "1.0"\n');
  writeFileSync(join(src, 'payload'), randomBytes(UPLOAD_MB * 1024 * 1024));
  const file = join(dir, 'bench-upload.snap');
  execFileSync('mksquashfs', [src, file, '-noappend', '-noI', '-noD', '-noF', '-noX', '-no-progress', '-quiet'], { stdio: 'ignore' });
  rmSync(src, { recursive: true, force: true });
  const bytes = statSync(file).size;
  const secret = (await accounts.createToken(OPERATOR, { name: 'bench', days: 1, forEmail: 'bench@bench.test' })).secret;
  await accounts.grant(OPERATOR, 'demo-brand', 'bench@bench.test', 'collaborator');

  // The client is another process, as snapcraft or the CLI would be: curl streams the file (-T) as the POST body.
  const upload = async () => {
    const s = performance.now();
    const answer = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '-X', 'POST', '-T', file, '-H', `authorization: Bearer ${secret}`, '-H', 'content-type: application/octet-stream', '-H', 'expect:', '-w', '\n%{http_code}', new URL('api/v1/uploads', v.adminUrl).toString()], { maxBuffer: 1 << 20 }, (e, out) => (e ? reject(e) : resolve(out))),
    );
    const seconds = (performance.now() - s) / 1000;
    if (!answer.endsWith('\n201')) throw new Error(`upload answered: ${answer}`);
    return bytes / 1e6 / seconds;
  };
  const raw = async () => {
    const s = performance.now();
    const hash = createHash('sha3-384');
    const out = join(dir, 'raw.out');
    const source = createReadStream(file, { highWaterMark: 1 << 20 });
    source.on('data', (c) => hash.update(c as Buffer));
    await pipeline(source, createWriteStream(out));
    hash.digest();
    const r = bytes / 1e6 / ((performance.now() - s) / 1000);
    rmSync(out);
    return r;
  };
  // Alternating rounds, medians: both figures see the same machine and page cache.
  const ups: number[] = [];
  const raws: number[] = [];
  for (let round = 0; round < 3; round++) {
    raws.push(await raw());
    ups.push(await upload());
  }
  const up = pct(ups, 50);
  const rw = pct(raws, 50);
  console.log(`upload over the admin API: ${up.toFixed(1)} MB/s (${(bytes / 1e6).toFixed(0)} MB, median of 3); raw createWriteStream + SHA3-384: ${rw.toFixed(1)} MB/s`);
  console.log(`RESULT offer_p99_ms=${fmt(ctx.p99)} upload_ratio=${(up / rw).toFixed(3)}`);
} finally {
  await v.close();
  rmSync(dir, { recursive: true, force: true });
}
