import type { Database } from '../db/database.js';
import type { CheckpointRow, CounterRow, IssuanceRow, PushKind, PushRow } from './push-batch.js';

/** The appliance-local cursor of one kind: what central acknowledged, and (counters) the last sequence handed out. */
export async function cursor(db: Database, kind: PushKind): Promise<{ acked: number; assigned: number }> {
  const row = (await db('sync_push_cursors').where({ kind }).first('acked', 'assigned')) as { acked: number | string; assigned: number | string } | undefined;
  return { acked: Number(row?.acked ?? 0), assigned: Number(row?.assigned ?? 0) };
}

export async function setAcked(db: Database, kind: PushKind, acked: number): Promise<void> {
  await db('sync_push_cursors').insert({ kind, acked, assigned: 0 }).onConflict('kind').merge(['acked']);
}

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

const issuanceRow = (r: Record<string, unknown>): IssuanceRow => ({
  seq: Number(r['id']),
  brandId: String(r['brand_id']),
  model: String(r['model']),
  serial: String(r['serial']),
  deviceKeyId: String(r['device_key_id']),
  signingKeyId: String(r['signing_key_id']),
  outcome: r['outcome'] as IssuanceRow['outcome'],
  requestId: text(r['request_id']),
  clientAddress: text(r['client_address']),
  station: text(r['station']),
  original: text(r['original']),
  hardwareIdKey: text(r['hardware_id_key']),
  issuedAt: String(r['issued_at']),
});

const checkpointRow = (r: Record<string, unknown>): CheckpointRow => ({
  seq: Number(r['seq']),
  hash: String(r['hash']),
  at: String(r['at']),
  keyId: String(r['key_id']),
  signature: String(r['signature']),
});

/**
 * Gives every station window whose count moved since it was last queued a
 * new sequence (counters have no row id of their own). A window that moves
 * again before central took it is queued again under a later sequence; its
 * earlier one simply never goes up.
 */
export async function markCounters(db: Database): Promise<void> {
  const moved = (await db('station_counters as c')
    .leftJoin('sync_counter_marks as m', (j) => j.on('m.station_id', '=', 'c.station_id').andOn('m.window', '=', 'c.window'))
    .whereNull('m.count')
    .orWhere('m.count', '<>', db.ref('c.count'))
    .orderBy(['c.station_id', 'c.window'])
    .select('c.station_id', 'c.window', 'c.count')) as Array<{ station_id: number; window: string; count: number }>;
  if (moved.length === 0) return;
  await db.transaction(async (trx) => {
    await trx('sync_push_cursors').insert({ kind: 'counters', acked: 0, assigned: 0 }).onConflict('kind').ignore();
    const { assigned } = await cursor(trx, 'counters');
    let seq = assigned;
    for (const m of moved) {
      await trx('sync_counter_marks').insert({ station_id: m.station_id, window: m.window, count: m.count, seq: ++seq }).onConflict(['station_id', 'window']).merge(['count', 'seq']);
    }
    await trx('sync_push_cursors').where({ kind: 'counters' }).update({ assigned: seq });
  });
}

/** Up to `limit` local rows of a kind after sequence `after`, in sequence order, as they are pushed. */
export async function rowsAfter(db: Database, kind: PushKind, after: number, limit: number): Promise<PushRow[]> {
  if (kind === 'issuance') {
    return ((await db('issuance_log').where('id', '>', after).orderBy('id').limit(limit)) as Array<Record<string, unknown>>).map(issuanceRow);
  }
  if (kind === 'checkpoint') {
    return ((await db('audit_checkpoints').where('seq', '>', after).orderBy('seq').limit(limit)) as Array<Record<string, unknown>>).map(checkpointRow);
  }
  const marks = (await db('sync_counter_marks as m').join('stations as s', 's.id', 'm.station_id').where('m.seq', '>', after).orderBy('m.seq').limit(limit).select('m.seq', 's.name', 'm.window', 'm.count')) as Array<{
    seq: number;
    name: string;
    window: string;
    count: number;
  }>;
  return marks.map((m): CounterRow => ({ seq: Number(m.seq), station: m.name, window: m.window, count: Number(m.count) }));
}

/** Local rows of a kind central has not acknowledged yet. */
export async function backlog(db: Database, kind: PushKind, after: number): Promise<number> {
  const q = kind === 'issuance' ? db('issuance_log').where('id', '>', after) : kind === 'checkpoint' ? db('audit_checkpoints').where('seq', '>', after) : db('sync_counter_marks').where('seq', '>', after);
  const [row] = await q.count({ n: '*' });
  return Number((row as { n: unknown }).n);
}
