import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { SerialRepository } from '../../src/provisioning/serials.js';
import { modelCounter } from '../../src/provisioning/number-allocator.js';
import { LeaseKeeper } from '../../src/sync/lease-keeper.js';
import { APPLIANCES, openTestDb, post, removeDirs, seed, startCentral, TestUpstream, type Central, type Kind } from './push-fixtures.js';

const MODEL_ID = 1;

interface Appliance {
  readonly db: Database;
  readonly upstream: TestUpstream;
  readonly keeper: LeaseKeeper;
  readonly serials: SerialRepository;
}

async function appliance(central: Central, token: string, leaseSize: number): Promise<Appliance> {
  const { db } = await openTestDb('sqlite');
  await seed(db, 'appliance');
  const upstream = new TestUpstream(central.url, token);
  const keeper = new LeaseKeeper(db, upstream, { leaseSize });
  return { db, upstream, keeper, serials: new SerialRepository(db, () => new Date(), keeper) };
}

const until = async (check: () => Promise<boolean>, ms = 5000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (await check()) return;
  throw new Error('timed out');
};

/**
 * Vault-allocated serials on appliances come from ranges central leases
 * per model, off the same counter central's own serials take from: two
 * appliances never hold the same number, an appliance keeps numbering
 * while the link is down, and renews its lease when a fifth is left.
 */
describe.each<Kind>(['sqlite', 'pg'])('leased serial ranges, central on %s', (kind) => {
  let central: Central;
  const appliances: Appliance[] = [];
  beforeAll(async () => {
    const { db } = await openTestDb(kind);
    await seed(db);
    central = await startCentral(db);
  }, 60_000);
  afterAll(async () => {
    for (const a of appliances) {
      await a.keeper.stop();
      await a.db.destroy();
    }
    await central?.close();
    await central?.db.destroy();
    removeDirs();
  });

  it('gives two appliances, and central itself, numbers that never overlap', async () => {
    const a = await appliance(central, 'token-aaaaaaaaaaaaaaaaaaaa', 10);
    const b = await appliance(central, 'token-bbbbbbbbbbbbbbbbbbbb', 7);
    appliances.push(a, b);
    const centralSerials = new SerialRepository(central.db, () => new Date(), modelCounter);
    const taken = await Promise.all([
      ...Array.from({ length: 40 }, () => a.serials.reserveNumber(MODEL_ID)),
      ...Array.from({ length: 40 }, () => b.serials.reserveNumber(MODEL_ID)),
      ...Array.from({ length: 20 }, () => centralSerials.reserveNumber(MODEL_ID)),
    ]);
    expect(new Set(taken).size).toBe(taken.length);
    const ranges = (await central.db('sync_leases').orderBy('first_number')) as Array<{ appliance_id: number; first_number: number; end_number: number }>;
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.first_number).toBeGreaterThanOrEqual(ranges[i - 1]!.end_number);
    // Every number an appliance took lies in a range central granted it.
    const inLease = (n: number, id: number) => ranges.some((r) => r.appliance_id === id && n >= r.first_number && n < r.end_number);
    expect(taken.slice(0, 40).every((n) => inLease(n, 1))).toBe(true);
    expect(taken.slice(40, 80).every((n) => inLease(n, 2))).toBe(true);
    expect(taken.slice(80).some((n) => inLease(n, 1) || inLease(n, 2))).toBe(false);
  });

  it('never numbers from its copy of the model row on an appliance, even when wired without its lease keeper', async () => {
    const a = appliances[0]!;
    const before = await a.db('models').where({ id: MODEL_ID }).first('next_serial_number');
    await expect(new SerialRepository(a.db).reserveNumber(MODEL_ID)).rejects.toMatchObject({ code: 'ERR_TEMPORARILY_UNAVAILABLE', message: expect.stringContaining('without its lease keeper') });
    expect(await a.db('models').where({ id: MODEL_ID }).first('next_serial_number')).toEqual(before);
  });

  it('asks for a new lease when a fifth is left, in the background, and not before', async () => {
    const c = await appliance(central, 'token-aaaaaaaaaaaaaaaaaaaa', 10);
    appliances.push(c);
    const first = await c.serials.reserveNumber(MODEL_ID); // no lease yet: one is asked for at once
    expect(c.upstream.calls.get('/sync/v1/leases')).toBe(1);
    for (let i = 0; i < 6; i++) await c.serials.reserveNumber(MODEL_ID);
    // 3 left of 10: above a fifth.
    await new Promise((r) => setTimeout(r, 50));
    expect(c.upstream.calls.get('/sync/v1/leases')).toBe(1);
    await c.serials.reserveNumber(MODEL_ID); // 2 left: a fifth
    await until(async () => (await c.db('sync_lease_holds').count({ n: '*' }))[0]!['n'] === 2);
    expect(c.upstream.calls.get('/sync/v1/leases')).toBe(2);
    expect((await c.keeper.status()).models.find((m) => m.model === 'numbered')).toMatchObject({ brand: 'demo-brand', left: 12 });
    expect(first).toBeGreaterThan(0);
  });

  it('keeps numbering inside its lease while central is unreachable, then refuses with ERR_SYNC_LEASE_EXHAUSTED', async () => {
    const d = await appliance(central, 'token-bbbbbbbbbbbbbbbbbbbb', 5);
    appliances.push(d);
    await d.keeper.topUp();
    expect((await d.keeper.status()).models.find((m) => m.model === 'numbered')!.left).toBe(5);
    d.upstream.url = 'http://127.0.0.1:9'; // the link is cut
    const offline = [];
    for (let i = 0; i < 5; i++) offline.push(await d.serials.reserveNumber(MODEL_ID));
    expect(new Set(offline).size).toBe(5);
    const refused = await d.serials.reserveNumber(MODEL_ID).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ERR_SYNC_LEASE_EXHAUSTED', message: expect.stringContaining('model "numbered" has used every serial number leased from central') });
    expect((await d.keeper.status()).lastError).toMatchObject({ model: 'numbered', code: 'ERR_UPSTREAM_UNAVAILABLE' });
    // A number given back is used again before a new one, lease or not.
    await d.serials.releaseNumber(MODEL_ID, offline[2]!);
    expect(await d.serials.reserveNumber(MODEL_ID)).toBe(offline[2]);
    d.upstream.url = central.url; // back: numbering resumes from a new lease
    const after = await d.serials.reserveNumber(MODEL_ID);
    expect(offline).not.toContain(after);
  });

  it('refuses a lease for an unknown model, another brand’s model, a model of proposed serials, or a size out of bounds', async () => {
    const refusal = async (body: unknown, token = 'token-aaaaaaaaaaaaaaaaaaaa') => {
      const res = await post(central.url, token, '/sync/v1/leases', body);
      return `${res.status} ${res.body.error?.code}: ${res.body.error?.message}`;
    };
    expect(await refusal({ brand: 'demo-brand', model: 'nope', size: 10 })).toBe('400 ERR_SYNC_LEASE_INVALID: brand "demo-brand" has no model "nope"; check the model name, or wait for central\'s models to reach the appliance');
    expect(await refusal({ brand: 'other-brand', model: 'foreign', size: 10 })).toBe('400 ERR_SYNC_LEASE_INVALID: appliance "line-a" serves brand "demo-brand", not "other-brand": it may lease only that brand\'s model numbers');
    expect(await refusal({ brand: 'demo-brand', model: 'proposed', size: 10 })).toBe('400 ERR_SYNC_LEASE_INVALID: model "proposed" takes the serials devices propose, not numbered ones: it needs no lease');
    expect(await refusal({ brand: 'demo-brand', model: 'numbered', size: 0 })).toMatch(/^400 ERR_SYNC_LEASE_INVALID: cannot lease serial numbers: size: /);
    expect(await refusal({ brand: 'demo-brand', model: 'numbered', size: 2_000_000 })).toMatch(/^400 ERR_SYNC_LEASE_INVALID: cannot lease serial numbers: size: /);
    // The other brand's appliance leases its own model, from its own counter.
    const res = await post(central.url, 'token-otherrrrrrrrrrrrrrrr', '/sync/v1/leases', { brand: 'other-brand', model: 'foreign', size: 10 });
    expect(res).toMatchObject({ status: 201, body: { model: 'foreign', first: 1, end: 11 } });
    expect(APPLIANCES['token-otherrrrrrrrrrrrrrrr']!.brandId).toBe(2);
  });
});
