import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnap } from '../support/snaps.js';
import { DEMO, SyncCluster, type Appliance } from '../support/sync-cluster.js';
import { IssuanceLedger } from './ledger.js';

/**
 * Two central replicas on one PostgreSQL database and one data directory
 * (so one blob directory), each appliance's fault proxy sending its
 * connections to them in turn. The proxies' connections are reset every
 * couple of seconds during the runs, so that requests keep moving from one
 * replica to the other. The same results as with one replica: changes reach
 * both appliances, nothing issued is lost or doubled, no serial goes twice,
 * and a replica killed with -9 costs nothing while the other serves. The
 * 60 s partition runs once, in cluster.test.ts: with replicas the
 * appliance's side of it is the same.
 */

let cluster: SyncCluster;
let a: Appliance;
let b: Appliance;
const ledger = new IssuanceLedger(() => cluster);
const register = (appliance: Appliance, n: number) => ledger.register(appliance, n);
const expectNothingLostOrDoubled = () => ledger.expectNothingLostOrDoubled();

beforeAll(async () => {
  cluster = await SyncCluster.start({ replicas: 2 });
  [a, b] = [cluster.appliance('appliance-a'), cluster.appliance('appliance-b')];
}, 300_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

/** Resets the appliances' connections every `everyMs` until stopped: each new connection goes to the other replica. */
function rotate(everyMs = 2000): () => void {
  const timer = setInterval(() => {
    a.proxy.reset();
    b.proxy.reset();
  }, everyMs);
  return () => clearInterval(timer);
}

const targetKey = (i: number) => `127.0.0.1:${new URL(cluster.replicas[i]!.urls.sync!).port}`;

describe('two central replicas serving the same appliances', () => {
  it('requests alternate between the replicas, and changes and pushes go through either', async () => {
    const stop = rotate();
    try {
      const down = [0, 1].map((i) => (a.proxy.stats.perTargetBytes[targetKey(i)]?.down ?? 0) + (b.proxy.stats.perTargetBytes[targetKey(i)]?.down ?? 0));
      for (let round = 0; round < 4; round++) {
        const name = `line-r${round}`;
        const made = await cluster.centralCli('station', 'create', name, '--model', `${DEMO.brand}/${DEMO.model}`);
        expect(made.code, made.stderr).toBe(0);
        await Promise.all([register(a, 5), register(b, 5)]);
        for (const x of [a, b]) await cluster.waitFor(`${x.name} to hold station ${name}`, () => cluster.applianceHas(x, 'stations', { name }), { timeoutMs: 30_000 });
      }
      await expectNothingLostOrDoubled();
      // Both replicas really served: each sent the appliances bytes.
      for (const i of [0, 1]) {
        const now = (a.proxy.stats.perTargetBytes[targetKey(i)]?.down ?? 0) + (b.proxy.stats.perTargetBytes[targetKey(i)]?.down ?? 0);
        expect(now - down[i]!, `bytes served by replica ${i + 1}`).toBeGreaterThan(1000);
      }
    } finally {
      stop();
    }
  }, 180_000);

  it('kill -9 of one replica mid-push: the other serves, nothing lost or doubled; restarted, it serves again', async () => {
    const [first] = cluster.replicas;
    await ledger.killMidPush(first!, [a, b], 1000);
    const stop = rotate();
    try {
      // With replica 1 down, every other connection fails: the appliances retry onto replica 2.
      await Promise.all([register(a, 5), register(b, 5)]);
      await expectNothingLostOrDoubled();
      const name = 'line-one-replica';
      expect((await cluster.centralCli('station', 'create', name, '--model', `${DEMO.brand}/${DEMO.model}`)).code).toBe(0);
      for (const x of [a, b]) await cluster.waitFor(`${x.name} to hold station ${name}`, () => cluster.applianceHas(x, 'stations', { name }), { timeoutMs: 45_000 });
      await first!.start();
      await Promise.all([register(a, 5), register(b, 5)]);
      await expectNothingLostOrDoubled();
    } finally {
      stop();
    }
  }, 240_000);

  it('a snap uploaded through one replica downloads through the other (one shared blob directory)', async () => {
    const made = await cluster.centralCli('admin', 'create', '--email', 'publisher@replicas.test', '--brand', DEMO.brand);
    expect(made.code, made.stderr).toBe(0);
    const headers = { authorization: `Bearer ${made.stdout.trim()}` };
    const [one, two] = cluster.replicas.map((r) => `${r.urls.admin}api/v1/`);
    const store = `stores/${DEMO.store}/snaps`;
    const json = (body: unknown) => ({ method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    expect((await fetch(`${one}${store}`, json({ name: 'replica-app' }))).status).toBe(201);
    const file = buildSnap(cluster.root, { name: 'replica-app', version: '1.0' }, randomBytes(256 * 1024));
    const bytes = readFileSync(file);
    const up = await fetch(`${one}uploads`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: bytes });
    expect(up.status).toBe(201);
    const { upload_id } = (await up.json()) as { upload_id: string };
    const pushed = await fetch(`${one}${store}/replica-app/revisions`, json({ 'upload-id': upload_id }));
    expect(pushed.status).toBe(201);
    const { revisions } = (await pushed.json()) as { revisions: Array<{ revision: number; status: string }> };
    const revision = revisions[0]!.revision;
    expect((await fetch(`${one}${store}/replica-app/releases`, json([{ revision, channel: 'latest/stable' }]))).status).toBe(200);

    const got = await fetch(`${two}${store}/replica-app/revisions/${revision}/file`, { headers });
    expect(got.status).toBe(200);
    const downloaded = Buffer.from(await got.arrayBuffer());
    expect(createHash('sha3-384').update(downloaded).digest('hex')).toBe(createHash('sha3-384').update(bytes).digest('hex'));
  }, 120_000);
});
