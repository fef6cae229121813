import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { SyncConflicts, type SyncConflict } from '../../src/sync/conflicts.js';
import { PushReceiver } from '../../src/sync/push-receiver.js';
import { setAcked } from '../../src/sync/push-source.js';
import { Pusher } from '../../src/sync/pusher.js';
import { APPLIANCES, BRAND, logRow, openTestDb, post, removeDirs, seed, startCentral, TestUpstream, type Central, type Kind } from './push-fixtures.js';

const TOKEN_A = 'token-aaaaaaaaaaaaaaaaaaaa';
const TOKEN_B = 'token-bbbbbbbbbbbbbbbbbbbb';
const LINE_A = APPLIANCES[TOKEN_A]!;
const LINE_B = APPLIANCES[TOKEN_B]!;

async function applianceDb(): Promise<Database> {
  const { db } = await openTestDb('sqlite');
  await seed(db, 'appliance');
  return db;
}

async function issue(db: Database, from: number, n: number, prefix = 'numbered-', model = 'numbered'): Promise<void> {
  const rows = Array.from({ length: n }, (_, i) => logRow('appliance-instance', `${prefix}${from + i}`, `key-${prefix}${from + i}`, model));
  for (let i = 0; i < rows.length; i += 200) await db('issuance_log').insert(rows.slice(i, i + 200));
}

const wire = (seq: number, serial: string, deviceKeyId: string) => ({
  seq,
  brandId: BRAND,
  model: 'proposed',
  serial,
  deviceKeyId,
  signingKeyId: 'key-id-1',
  outcome: 'issued',
  issuedAt: '2026-01-02T03:04:05Z',
});

const pushedCount = async (db: Database, origin: string) => Number(((await db('issuance_log').where({ origin }).count({ n: '*' })) as Array<{ n: unknown }>)[0]!.n);

/**
 * Pushes are keyed by (appliance, sequence) and de-duplicated by central:
 * a batch sent twice, or by two replicas at once, is stored once; a batch
 * that would leave a gap is refused with the sequence central expects; a
 * serial two appliances gave to two devices is reported, never merged.
 */
describe.each<Kind>(['sqlite', 'pg'])('pushes to central on %s', (kind) => {
  let central: Central;
  const conflicts: SyncConflict[] = [];
  const closers: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    const opened = await openTestDb(kind);
    await seed(opened.db);
    central = await startCentral(opened.db, { onConflicts: (c) => conflicts.push(...c) });
  }, 60_000);
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await central?.close();
    await central?.db.destroy();
    removeDirs();
  });

  it('delivers the issuance log in batches, and a replay of all of it doubles nothing', async () => {
    const db = await applianceDb();
    closers.push(() => db.destroy());
    await issue(db, 1, 1234);
    await db('audit_checkpoints').insert({ seq: 7, hash: 'h'.repeat(64), at: '2026-01-02T00:00:00Z', key_id: 'audit-key', signature: 'c2ln' });
    await db('station_counters').insert([{ station_id: 1, window: 'total', count: 1234 }, { station_id: 1, window: 'd:2026-01-02', count: 1234 }]);
    const upstream = new TestUpstream(central.url, TOKEN_A);
    // Batches of 500 (the default is larger): three issuance batches, the last one short.
    const pusher = new Pusher(db, upstream, { everyMs: 60_000, batchRows: 500 });
    expect((await pusher.status()).backlog).toEqual({ issuance: 1234, checkpoint: 1, counters: 0 });
    await pusher.pushNow();
    expect(upstream.calls.get('/sync/v1/push')).toBe(3 + 1 + 1); // 500 + 500 + 234, a checkpoint, the counters
    expect(await pushedCount(central.db, 'appliance:line-a')).toBe(1234);
    expect(await central.db('sync_push_acks').where({ appliance_id: LINE_A.id }).orderBy('kind').select('kind', 'acked')).toEqual([
      { kind: 'checkpoint', acked: kind === 'pg' ? '7' : 7 },
      { kind: 'counters', acked: kind === 'pg' ? '2' : 2 },
      { kind: 'issuance', acked: kind === 'pg' ? '1234' : 1234 },
    ]);
    expect(await central.db('sync_checkpoints').where({ appliance_id: LINE_A.id }).select('seq', 'hash')).toEqual([{ seq: 7, hash: 'h'.repeat(64) }]);
    const st = await pusher.status();
    expect(st.backlog).toEqual({ issuance: 0, checkpoint: 0, counters: 0 });
    expect(st.lastPushAt).toBeDefined();

    // The appliance lost its cursor (restored, or killed before it wrote it): everything goes again, and is counted once.
    await setAcked(db, 'issuance', 0);
    await pusher.pushNow();
    expect(await pushedCount(central.db, 'appliance:line-a')).toBe(1234);
    // A batch replayed by hand answers what central holds and how many it had.
    const replay = await post(central.url, TOKEN_A, '/sync/v1/push', { kind: 'issuance', after: 0, rows: [wire(1, 'x', 'y')] });
    expect(replay).toMatchObject({ status: 200, body: { acked: 1234, duplicates: 1 } });

    // A counter that moved goes up again under a later sequence; central keeps the latest.
    await db('station_counters').where({ station_id: 1, window: 'total' }).update({ count: 1300 });
    await pusher.pushNow();
    expect(await central.db('sync_station_counters').where({ appliance_id: LINE_A.id, station: 'line-1' }).orderBy('window').select('window', 'count')).toEqual([
      { window: 'd:2026-01-02', count: 1234 },
      { window: 'total', count: 1300 },
    ]);
  });

  it('refuses a batch that would leave a gap with 409 and the sequence it expects, and the pusher starts again from there', async () => {
    const res = await post(central.url, TOKEN_B, '/sync/v1/push', { kind: 'issuance', after: 40, rows: [wire(41, 'gap', 'k')] });
    expect(res).toEqual({ status: 409, body: { error: { code: 'ERR_SYNC_OUT_OF_ORDER', message: 'this issuance push follows sequence 40, but central holds issuance rows of appliance "line-b" only up to 0: push again from 0', detail: { expected: 0 } } } });
    const db = await applianceDb();
    closers.push(() => db.destroy());
    await issue(db, 1, 30, 'b-');
    // The appliance believes central has its first 20 rows (central's database was restored from before them).
    await setAcked(db, 'issuance', 20);
    await new Pusher(db, new TestUpstream(central.url, TOKEN_B), { everyMs: 60_000 }).pushNow();
    expect(await pushedCount(central.db, 'appliance:line-b')).toBe(30);
  });

  it('refuses a malformed batch, naming the bad row, and stores none of it', async () => {
    const bad = await post(central.url, TOKEN_B, '/sync/v1/push', { kind: 'issuance', after: 30, rows: [wire(31, 'ok', 'k1'), { ...wire(32, 'bad', 'k2'), serial: '' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toEqual({ code: 'ERR_SYNC_BATCH_INVALID', message: 'cannot take issuance row 1 (seq 32): serial: Too small: expected string to have >=1 characters', detail: { row: 1 } });
    const falling = await post(central.url, TOKEN_B, '/sync/v1/push', { kind: 'issuance', after: 30, rows: [wire(32, 'a', 'k1'), wire(31, 'b', 'k2')] });
    expect(falling.body.error).toEqual({ code: 'ERR_SYNC_BATCH_INVALID', message: 'cannot take issuance row 1 (seq 31): sequences must rise, each above 32', detail: { row: 1 } });
    const foreign = await post(central.url, TOKEN_B, '/sync/v1/push', { kind: 'issuance', after: 30, rows: [{ ...wire(31, 'a', 'k1'), brandId: 'other-brand' }] });
    expect(foreign.body.error).toEqual({ code: 'ERR_SYNC_BATCH_INVALID', message: 'cannot take issuance row 0 (seq 31): brand "other-brand" is not the brand appliance "line-b" serves ("demo-brand")', detail: { row: 0 } });
    const kindless = await post(central.url, TOKEN_B, '/sync/v1/push', { kind: 'serials', after: 0, rows: [] });
    expect(kindless.body.error?.code).toBe('ERR_SYNC_BATCH_INVALID');
    expect(await pushedCount(central.db, 'appliance:line-b')).toBe(30);
  });

  it('reports a serial two appliances gave to two device keys as one conflict, and merges nothing', async () => {
    const a = await post(central.url, TOKEN_A, '/sync/v1/push', { kind: 'issuance', after: 1234, rows: [wire(1235, 'SN-1', 'device-1'), wire(1236, 'SN-2', 'device-2')] });
    expect(a.status).toBe(200);
    const b = await post(central.url, TOKEN_B, '/sync/v1/push', { kind: 'issuance', after: 30, rows: [wire(31, 'SN-1', 'device-9'), wire(32, 'SN-2', 'device-2')] });
    expect(b).toMatchObject({ status: 200, body: { acked: 32, duplicates: 0 } });
    const listed = await new SyncConflicts(central.db).list(BRAND);
    expect(listed.map((c) => ({ serial: c.serial, model: c.model, sides: c.sides }))).toEqual([
      { serial: 'SN-1', model: 'proposed', sides: [{ origin: 'appliance:line-a', deviceKey: 'device-1' }, { origin: 'appliance:line-b', deviceKey: 'device-9' }] },
    ]);
    expect(conflicts.map((c) => c.serial)).toEqual(['SN-1']);
    // Both rows stay, as pushed; the same report again is not a second conflict.
    expect(await central.db('issuance_log').where({ serial: 'SN-1' }).orderBy('origin').pluck('device_key_id')).toEqual(['device-1', 'device-9']);
    await post(central.url, TOKEN_B, '/sync/v1/push', { kind: 'issuance', after: 32, rows: [{ ...wire(33, 'SN-1', 'device-9'), outcome: 'repeated' }] });
    expect(await new SyncConflicts(central.db).count()).toBe(1);
    expect(conflicts).toHaveLength(1);
  });

  it('keeps the last error and the backlog while central is unreachable', async () => {
    const db = await applianceDb();
    closers.push(() => db.destroy());
    await issue(db, 1, 3, 'c-');
    const pusher = new Pusher(db, new TestUpstream('http://127.0.0.1:9', TOKEN_A), { everyMs: 60_000 });
    await expect(pusher.pushNow()).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(await pusher.status()).toMatchObject({ backlog: { issuance: 3 }, lastPushAt: undefined, lastError: { code: 'ERR_UPSTREAM_UNAVAILABLE' } });
  });
});

/** Several stateless central replicas on one PostgreSQL: the database, not a process, decides what is new. */
describe('pushes racing through two central replicas on one PostgreSQL', () => {
  const replicas: PushReceiver[] = [];
  const dbs: Database[] = [];
  beforeAll(async () => {
    const first = await openTestDb('pg');
    await seed(first.db);
    const second = await openTestDb('pg', first.connection);
    dbs.push(first.db, second.db);
    replicas.push(new PushReceiver(first.db), new PushReceiver(second.db));
  }, 60_000);
  afterAll(async () => {
    for (const db of dbs) await db.destroy();
  });

  it('stores a batch once when both replicas take it at the same moment, and finds every conflict between two appliances pushing at once', async () => {
    const db = dbs[0]!;
    const rows = Array.from({ length: 300 }, (_, i) => wire(1 + i, `race-${i}`, `race-key-${i}`));
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => replicas[i % 2]!.receive(LINE_B, { kind: 'issuance', after: 0, rows })));
    expect(answers.every((r) => r.acked === 300)).toBe(true);
    expect(answers.map((r) => r.duplicates).sort((x, y) => x - y)).toEqual([0, 300, 300, 300, 300, 300, 300, 300]);
    expect(Number(((await db('issuance_log').where('serial', 'like', 'race-%').count({ n: '*' })) as Array<{ n: unknown }>)[0]!.n)).toBe(300);
    const clash = (key: string) => Array.from({ length: 50 }, (_, i) => wire(1000 + i, `clash-${i}`, `${key}-${i}`));
    await Promise.all([replicas[0]!.receive(LINE_A, { kind: 'issuance', after: 0, rows: clash('a') }), replicas[1]!.receive(LINE_B, { kind: 'issuance', after: 300, rows: clash('b') })]);
    expect(Number(((await db('sync_conflicts').where('serial', 'like', 'clash-%').count({ n: '*' })) as Array<{ n: unknown }>)[0]!.n)).toBe(50);
  });
});
