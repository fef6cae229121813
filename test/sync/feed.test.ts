import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { OPERATOR_ACTOR, UnitOfWork } from '../../src/audit/unit-of-work.js';
import { migrate, openDatabase, type Database } from '../../src/db/database.js';
import { Applier } from '../../src/sync/applier.js';
import { ChangeFeed } from '../../src/sync/feed.js';
import { snapshot } from '../../src/sync/snapshot.js';
import type { ApplianceContext } from '../../src/sync/upstream.js';
import { removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';

const count = async (db: Database, table: string, where: Record<string, unknown> = {}) => Number(((await db(table).where(where).count({ n: '*' }).first()) as { n: unknown }).n);

describe.each<DatabaseKind>(['sqlite', 'pg'])('the change feed from central (%s) to an appliance', (kind) => {
  const dir = testDataDir();
  let central: TestVault;
  let appliance: Database;
  let applier: Applier;
  let feed: ChangeFeed;
  let ctx: ApplianceContext;

  const follow = async () => {
    for (;;) {
      const at = (await applier.cursor())!;
      const page = await feed.page(ctx, at);
      await applier.applyPage(page, at);
      if (page.next === page.head) return page;
    }
  };

  beforeAll(async () => {
    central = await startTestVault(join(dir, 'central'), kind);
    const brand = (await central.vault.custody.brands.byAccountId('demo-brand'))!;
    ctx = { id: 1, name: 'line-1', storeId: 'demo-brand', brandId: brand.id, brandAccountId: 'demo-brand' };
    // Another brand whose rows the appliance must never receive.
    await central.vault.custody.createBrand('other-brand', 'Other Brand', 'demo-root');
    appliance = openDatabase({ client: 'sqlite', filename: join(dir, 'appliance.db') });
    await migrate(appliance);
    applier = new Applier(appliance);
    feed = new ChangeFeed(central.vault.db, { pollMs: 50 });
  }, 120_000);

  afterAll(async () => {
    await appliance?.destroy();
    await central?.close();
    removeDataDir(dir);
  });

  it('starts a new appliance from a snapshot of what it is entitled to, and nothing else', async () => {
    const { head, rows } = await applier.applySnapshot(snapshot(central.vault.db, ctx));
    expect(rows).toBeGreaterThan(5);
    expect(head).toBe(await feed.head());
    expect(await count(appliance, 'models', { name: 'demo-model' })).toBe(1);
    expect(await count(appliance, 'stores', { id: 'demo-brand' })).toBe(1);
    expect(await count(appliance, 'api_keys')).toBe(await count(central.vault.db, 'api_keys'));
    expect(await count(appliance, 'brands', { account_id: 'other-brand' })).toBe(0);
    expect(await count(appliance, 'stores', { id: 'other-brand' })).toBe(0);
    expect(await count(appliance, 'signing_keys', { purpose: 'audit' })).toBe(0);
  });

  it('brings a change on central to the appliance, in order, and a page applied twice changes nothing', async () => {
    await central.vault.accounts.addPerson(OPERATOR, 'ada@example.com', 'Ada');
    await central.vault.accounts.grant(OPERATOR, 'demo-brand', 'ada@example.com', 'viewer');
    const { apiKey } = await central.vault.provisioning.factory.create('demo-brand', { name: 'line-7', models: ['demo-model'], total: 10 });
    expect(apiKey).toBeTruthy();
    const at = (await applier.cursor())!;
    const page = await feed.page(ctx, at);
    expect(page.changes.map((c) => c.table)).toEqual(expect.arrayContaining(['people', 'role_grants', 'stations', 'api_keys', 'station_models']));
    await applier.applyPage(page, at);
    await applier.applyPage(page, at);
    await follow();
    expect(await count(appliance, 'stations', { name: 'line-7' })).toBe(1);
    expect(await count(appliance, 'people', { email: 'ada@example.com' })).toBe(1);
    expect(await count(appliance, 'role_grants')).toBe(await count(central.vault.db, 'role_grants'));
  });

  it('sends a person only with a grant in the appliance\'s stores', async () => {
    await central.vault.accounts.addPerson(OPERATOR, 'bob@example.com', 'Bob');
    await central.vault.accounts.grant(OPERATOR, 'other-brand', 'bob@example.com', 'viewer');
    await follow();
    expect(await count(appliance, 'people', { email: 'bob@example.com' })).toBe(0);
    await central.vault.accounts.grant(OPERATOR, 'demo-brand', 'bob@example.com', 'viewer');
    await follow();
    expect(await count(appliance, 'people', { email: 'bob@example.com' })).toBe(1);
  });

  it("tells the appliance's offer index which snaps a page changed", async () => {
    await central.vault.snaps.register(OPERATOR, { name: 'feed-snap', storeId: 'demo-brand' });
    await follow();
    expect(await count(appliance, 'snaps', { name: 'feed-snap' })).toBe(1);
    expect(await count(appliance, 'outbox', { entity: 'snap', key: 'feed-snap' })).toBe(1);
  });

  it('carries a deletion', async () => {
    await central.vault.accounts.revoke(OPERATOR, 'demo-brand', 'ada@example.com', 'viewer');
    await follow();
    expect(await count(appliance, 'role_grants')).toBe(await count(central.vault.db, 'role_grants', { store_id: 'demo-brand' }));
  });

  it('answers a long-poll as soon as a change commits', async () => {
    const at = (await applier.cursor())!;
    const started = Date.now();
    const waiting = feed.wait(ctx, at, 10_000);
    setTimeout(() => void central.vault.accounts.addPerson(OPERATOR, 'cy@example.com', 'Cy').then(() => central.vault.accounts.grant(OPERATOR, 'demo-brand', 'cy@example.com', 'viewer')), 200);
    const page = await waiting;
    expect(page.next).toBeGreaterThan(at);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses a cursor from the future', async () => {
    const head = await feed.head();
    await expect(feed.page(ctx, head + 1000)).rejects.toMatchObject({ code: 'ERR_SYNC_CURSOR_AHEAD' });
  });

  it('refuses a local write to a replicated table on the appliance, and lets local tables be written', async () => {
    const uow = new UnitOfWork(appliance);
    await expect(uow.run(OPERATOR_ACTOR, (trx) => trx('stations').where({ name: 'line-7' }).update({ per_hour: 5 }))).rejects.toMatchObject({ code: 'ERR_REPLICATED_READ_ONLY' });
    await expect(uow.run(OPERATOR_ACTOR, (trx) => trx('people').insert({ email: 'x@example.com', display_name: 'X', status: 'active', created_at: '2026-01-01T00:00:00Z' }))).rejects.toMatchObject({ code: 'ERR_REPLICATED_READ_ONLY' });
    await uow.run(OPERATOR_ACTOR, (trx) => trx('settings').insert({ name: 'local-note', value: 'fine' }));
    expect(await count(appliance, 'stations', { name: 'line-7', per_hour: 5 })).toBe(0);
  });
});
