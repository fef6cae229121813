import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, SYNC_COMMANDS, SyncCluster, runCli, sleep, type Appliance } from '../support/sync-cluster.js';
import { IssuanceLedger } from './ledger.js';

/**
 * Central on a throwaway PostgreSQL, two appliances on SQLite with their own
 * SoftHSM2 tokens, each behind a TCP fault proxy, every part its own
 * process. The tests run in order on one cluster; every serial a device was
 * answered is kept, and after each fault central must hold each exactly
 * once, from the appliance that issued it, and no serial twice.
 */

const PARTITION_MS = 60_000;

let cluster: SyncCluster;
let a: Appliance;
let b: Appliance;
const ledger = new IssuanceLedger(() => cluster);
const register = (appliance: Appliance, n: number) => ledger.register(appliance, n);
const expectNothingLostOrDoubled = () => ledger.expectNothingLostOrDoubled();

beforeAll(async () => {
  cluster = await SyncCluster.start();
  [a, b] = [cluster.appliance('appliance-a'), cluster.appliance('appliance-b')];
}, 240_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

const names = (appliance: Appliance, prefix: string) => cluster.applianceDb(appliance, async (db) => (await db('snaps').where('name', 'like', `${prefix}-%`).pluck('name')) as string[]);

/** The issuance sequence an appliance last had acknowledged by central (its push cursor, migration 0014). */
const ackedIssuance = (appliance: Appliance) =>
  cluster.applianceDb(appliance, async (db) => Number(((await db('sync_push_cursors').where({ kind: 'issuance' }).first()) as { acked?: unknown } | undefined)?.acked ?? 0));
const lastIssuance = (appliance: Appliance) => cluster.applianceDb(appliance, async (db) => Number(((await db('issuance_log').max({ m: 'id' }).first()) as { m: unknown }).m ?? 0));

describe('central and two appliances, through fault proxies', () => {
  it('a change on central reaches both appliances: a new station and its API key, a new person and their role', async () => {
    const made = await cluster.centralCli('station', 'create', 'line-sync', '--model', `${DEMO.brand}/${DEMO.model}`);
    expect(made.code, made.stderr).toBe(0);
    const apiKey = made.stdout.trim().split('\n').at(-1)!;
    expect((await cluster.centralCli('person', 'add', 'ops@cluster.test', '--name', 'Ops')).code).toBe(0);
    expect((await cluster.centralCli('role', 'grant', DEMO.store, 'ops@cluster.test', 'viewer')).code).toBe(0);
    for (const appliance of [a, b]) {
      await cluster.waitFor(`${appliance.name} to hold station line-sync`, () => cluster.applianceHas(appliance, 'stations', { name: 'line-sync' }), { timeoutMs: 30_000 });
      await cluster.waitFor(`${appliance.name} to hold ops@cluster.test`, () => cluster.applianceHas(appliance, 'people', { email: 'ops@cluster.test' }), { timeoutMs: 30_000 });
      // The station's key, made on central, is taken by the appliance's device API (api_keys replicate hashed).
      await ledger.register(appliance, 1, { apiKey });
    }
    await expectNothingLostOrDoubled();
  }, 120_000);

  it('a local write to a replicated entity on an appliance is refused, naming central', async () => {
    const r = await cluster.applianceCli(a, 'station', 'create', 'local-line', '--model', `${DEMO.brand}/${DEMO.model}`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(SYNC_COMMANDS.readOnlyCode);
    expect(r.stderr).toMatch(/central/i);
    expect(await cluster.applianceHas(a, 'stations', { name: 'local-line' })).toBe(false);
    // And a person, through the same command line.
    const p = await cluster.applianceCli(a, 'person', 'add', 'local@cluster.test');
    expect(p.code).not.toBe(0);
    expect(p.stderr).toContain(SYNC_COMMANDS.readOnlyCode);
  }, 60_000);

  it(`a ${PARTITION_MS / 1000} s partition while both appliances keep issuing: 0 lost, 0 duplicated, no overlapping serials`, async () => {
    await register(a, 5);
    await register(b, 5);
    const loads = [a, b].map((x) => cluster.keepRegistering(x, 2));
    await sleep(2000);
    const atCut = loads.map((l) => l.count().ok);
    a.proxy.cut();
    b.proxy.cut();
    await sleep(PARTITION_MS / 2);
    // Offline, the status command still answers (lag, backlog, lease left).
    for (const x of [a, b]) expect(await cluster.syncStatus(x)).toBeTruthy();
    await sleep(PARTITION_MS / 2);
    const atHeal = loads.map((l) => l.count().ok);
    a.proxy.heal();
    b.proxy.heal();
    await sleep(3000);
    ledger.keep(await Promise.all(loads.map((l) => l.stop())));
    // Both kept issuing inside their leases while cut off.
    for (const [i, x] of [a, b].entries()) expect(atHeal[i]! - atCut[i]!, `${x.name} issued while partitioned`).toBeGreaterThanOrEqual(PARTITION_MS / 1000);
    expect(a.proxy.stats.refused + b.proxy.stats.refused).toBeGreaterThan(0);
    await expectNothingLostOrDoubled();
  }, PARTITION_MS + 180_000);

  it('kill -9 of an appliance mid-push, then restart: nothing lost, nothing doubled', async () => {
    await cluster.waitForPushes();
    const before = (await cluster.centralIssuance(a.name)).length;
    // Pushes take 1.5 s to arrive and their acknowledgement 1.5 s to come back: the kill lands between central's commit and the appliance hearing of it.
    a.proxy.delay(1500);
    await register(a, 20);
    await cluster.waitFor('central to commit a push from appliance-a', async () => (await cluster.centralIssuance(a.name)).length > before, { timeoutMs: 30_000, intervalMs: 20 });
    await a.process.kill9();
    a.proxy.clear();
    // Mid-push for sure: central holds rows the appliance has not had acknowledged.
    const acked = await ackedIssuance(a);
    const central = (await cluster.centralIssuance(a.name)).map((r) => r.origin_seq!);
    expect(Math.max(...central)).toBeGreaterThan(acked);
    await a.process.start();
    await register(a, 5);
    await expectNothingLostOrDoubled();
    expect(await ackedIssuance(a)).toBe(await lastIssuance(a));
  }, 180_000);

  it('kill -9 of an appliance mid-pull, then restart: every change arrives once', async () => {
    const rows = 3000;
    const mark = a.proxy.stats.bytesDown;
    a.proxy.throttle(150_000);
    await cluster.insertSnaps('pull-a', rows);
    await cluster.waitFor('appliance-a to be receiving the changes', () => a.proxy.stats.bytesDown - mark > 40_000, { timeoutMs: 30_000, intervalMs: 20 });
    await a.process.kill9();
    a.proxy.clear();
    expect((await names(a, 'pull-a')).length).toBeLessThan(rows);
    await a.process.start();
    for (const x of [a, b]) await cluster.waitFor(`${x.name} to hold all ${rows} new snaps`, async () => (await names(x, 'pull-a')).length === rows, { timeoutMs: 90_000, intervalMs: 250 });
    const held = await names(a, 'pull-a');
    expect(new Set(held).size).toBe(rows);
    // The appliance still issues and pushes after the restart.
    await register(a, 3);
    await expectNothingLostOrDoubled();
  }, 180_000);

  it('kill -9 of central mid-push, then restart: nothing lost, nothing doubled', async () => {
    const [central] = cluster.replicas;
    await ledger.killMidPush(central!, [a, b], 1500);
    // Central is down: the appliances keep issuing.
    await Promise.all([register(a, 5), register(b, 5)]);
    await central!.start();
    await expectNothingLostOrDoubled();
  }, 180_000);

  it('kill -9 of central mid-pull, then restart: every change reaches both appliances once', async () => {
    const [central] = cluster.replicas;
    const rows = 3000;
    const mark = a.proxy.stats.bytesDown + b.proxy.stats.bytesDown;
    for (const x of [a, b]) x.proxy.throttle(150_000);
    await cluster.insertSnaps('pull-c', rows);
    await cluster.waitFor('the appliances to be receiving the changes', () => a.proxy.stats.bytesDown + b.proxy.stats.bytesDown - mark > 40_000, { timeoutMs: 30_000, intervalMs: 20 });
    await central!.kill9();
    for (const x of [a, b]) x.proxy.clear();
    for (const x of [a, b]) expect((await names(x, 'pull-c')).length).toBeLessThan(rows);
    await central!.start();
    for (const x of [a, b]) await cluster.waitFor(`${x.name} to hold all ${rows} new snaps`, async () => (await names(x, 'pull-c')).length === rows, { timeoutMs: 90_000, intervalMs: 250 });
    await Promise.all([register(a, 3), register(b, 3)]);
    await expectNothingLostOrDoubled();
  }, 180_000);

  it('a disabled appliance is refused at once: no change reaches it, nothing it pushes is taken', async () => {
    await cluster.waitForPushes();
    const fromB = (await cluster.centralIssuance(b.name)).length;
    const disabled = await runCli(SYNC_COMMANDS.applianceDisable(b.name, cluster.centralDir));
    expect(disabled.code, disabled.stderr).toBe(0);
    const disabledAt = Date.now();
    // A change made right after: the other appliance gets it, the disabled one never does.
    expect((await cluster.centralCli('station', 'create', 'after-disable', '--model', `${DEMO.brand}/${DEMO.model}`)).code).toBe(0);
    // It still issues locally (offline rules), but central takes none of it.
    const late = await cluster.register(b, 2);
    expect(late.failed).toEqual([]);
    await cluster.waitFor('appliance-a to hold station after-disable', () => cluster.applianceHas(a, 'stations', { name: 'after-disable' }), { timeoutMs: 30_000 });
    // Refused on its next call: its pusher (every 0.5 s here) or puller hears ERR_APPLIANCE_DISABLED.
    await cluster.waitFor(
      'appliance-b to report that central refuses it',
      async () => {
        const status = JSON.stringify(await cluster.syncStatus(b).catch((e: unknown) => String(e)));
        return status.includes(SYNC_COMMANDS.disabledCode) || b.process.logs().includes(SYNC_COMMANDS.disabledCode);
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(Date.now() - disabledAt).toBeLessThan(20_000);
    await sleep(3000);
    expect(await cluster.applianceHas(b, 'stations', { name: 'after-disable' })).toBe(false);
    expect((await cluster.centralIssuance(b.name)).length).toBe(fromB);
  }, 120_000);
});
