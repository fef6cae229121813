import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { detectConflicts, type SyncConflict } from './conflicts.js';
import { SyncError } from './errors.js';
import { parsePushBatch, type CheckpointRow, type CounterRow, type IssuanceRow, type PushAnswer, type PushKind } from './push-batch.js';
import type { ApplianceContext } from './upstream.js';

/** Rows per INSERT: PostgreSQL takes 65,535 parameters (14 a row here); knex writes a SQLite multi-row insert as a compound SELECT, which SQLite caps at 500 terms. */
const INSERT_CHUNK = { pg: 1000, sqlite: 250 } as const;

const isPostgres = (db: Database) => db.client.config.client === 'pg';

/**
 * The origin central records an appliance's pushed rows under. Prefixed, so
 * it never reads as an instance id (32 hex digits, which a name may also be).
 */
export const applianceOrigin = (name: string): string => `appliance:${name}`;

/** The issuance_log row central keeps for a pushed one: origin is the appliance, origin_seq its row id there. */
const issuanceLogRow = (origin: string, r: IssuanceRow) => ({
  brand_id: r.brandId,
  model: r.model,
  serial: r.serial,
  device_key_id: r.deviceKeyId,
  signing_key_id: r.signingKeyId,
  outcome: r.outcome,
  request_id: r.requestId ?? null,
  client_address: r.clientAddress ?? null,
  origin,
  origin_seq: r.seq,
  station: r.station ?? null,
  original: r.original ?? null,
  hardware_id_key: r.hardwareIdKey ?? null,
  issued_at: r.issuedAt,
});

function chunks<T>(trx: Database, rows: readonly T[]): T[][] {
  const size = isPostgres(trx) ? INSERT_CHUNK.pg : INSERT_CHUNK.sqlite;
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

export interface PushReceiverOptions {
  readonly clock?: () => Date;
  /** Told of conflicts found for the first time (the metric), after they commit. */
  readonly onConflicts?: (conflicts: readonly SyncConflict[]) => void;
}

/**
 * Central's side of a push: one transaction per batch that takes the rows
 * above the appliance's acknowledged sequence and moves it. Replicas keep
 * nothing in memory: the acknowledgement row is locked for the batch (FOR
 * UPDATE on PostgreSQL; SQLite has one writer), and the unique (origin,
 * origin_seq) index turns any row that slipped past it into a no-op, so
 * two replicas taking the same batch at once store it once.
 */
export class PushReceiver {
  private readonly clock: () => Date;

  constructor(
    private readonly db: Database,
    private readonly options: PushReceiverOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  async receive(appliance: ApplianceContext, body: unknown): Promise<PushAnswer> {
    const batch = parsePushBatch(body);
    if (batch.kind === 'issuance') {
      const stranger = batch.rows.findIndex((r) => r.brandId !== appliance.brandAccountId);
      if (stranger >= 0) {
        throw new SyncError('ERR_SYNC_BATCH_INVALID', `cannot take issuance row ${stranger} (seq ${batch.rows[stranger]!.seq}): brand "${batch.rows[stranger]!.brandId}" is not the brand appliance "${appliance.name}" serves ("${appliance.brandAccountId}")`, { row: stranger });
      }
    }
    const conflicts: SyncConflict[] = [];
    const answer = await this.db.transaction(async (trx) => {
      const now = nowIso(this.clock());
      const acked = await this.lockAck(trx, appliance.id, batch.kind, now);
      if (batch.after > acked) {
        throw new SyncError('ERR_SYNC_OUT_OF_ORDER', `this ${batch.kind} push follows sequence ${batch.after}, but central holds ${batch.kind} rows of appliance "${appliance.name}" only up to ${acked}: push again from ${acked}`, { expected: acked });
      }
      const fresh = batch.rows.filter((r) => r.seq > acked);
      let duplicates = batch.rows.length - fresh.length;
      if (fresh.length === 0) return { acked, duplicates };
      if (batch.kind === 'issuance') {
        const rows = fresh as IssuanceRow[];
        await this.lockModels(trx, rows);
        const origin = applianceOrigin(appliance.name);
        duplicates += rows.length - (await this.insertIssuance(trx, origin, rows));
        conflicts.push(...(await detectConflicts(trx, origin, rows, now)));
      } else if (batch.kind === 'checkpoint') {
        await this.insertCheckpoints(trx, appliance.id, fresh as CheckpointRow[], now);
      } else {
        await this.storeCounters(trx, appliance.id, fresh as CounterRow[], now);
      }
      const last = fresh[fresh.length - 1]!.seq;
      await trx('sync_push_acks').where({ appliance_id: appliance.id, kind: batch.kind }).update({ acked: last, updated_at: now });
      return { acked: last, duplicates };
    });
    if (conflicts.length > 0) this.options.onConflicts?.(conflicts);
    return answer;
  }

  /** The sequence acknowledged so far, locked until the batch commits; the first push of a kind makes its row. */
  private async lockAck(trx: Database, applianceId: number, kind: PushKind, now: string): Promise<number> {
    // A write first: a SQLite transaction then never has to upgrade a read lock.
    await trx('sync_push_acks').insert({ appliance_id: applianceId, kind, acked: 0, updated_at: now }).onConflict(['appliance_id', 'kind']).ignore();
    const q = trx('sync_push_acks').where({ appliance_id: applianceId, kind }).first('acked');
    const row = (await (isPostgres(trx) ? q.forUpdate() : q)) as { acked: number | string };
    return Number(row.acked);
  }

  /**
   * Pushes of the same models from different appliances, on any replica,
   * take turns: conflict detection must see the other's rows. Locks in
   * sorted order, so two batches never wait on each other in a cycle.
   */
  private async lockModels(trx: Database, rows: readonly IssuanceRow[]): Promise<void> {
    if (!isPostgres(trx)) return;
    const models = [...new Set(rows.map((r) => `serial-vault/sync-conflicts/${r.brandId}/${r.model}`))].sort();
    for (const m of models) await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [m]);
  }

  /** Inserts the rows, none twice; returns how many were new. */
  private async insertIssuance(trx: Database, origin: string, rows: readonly IssuanceRow[]): Promise<number> {
    let inserted = 0;
    for (const chunk of chunks(trx, rows)) {
      const ids = await trx('issuance_log').insert(chunk.map((r) => issuanceLogRow(origin, r))).onConflict(['origin', 'origin_seq']).ignore().returning('id');
      inserted += ids.length;
    }
    return inserted;
  }

  private async insertCheckpoints(trx: Database, applianceId: number, rows: readonly CheckpointRow[], now: string): Promise<void> {
    for (const chunk of chunks(trx, rows)) {
      await trx('sync_checkpoints')
        .insert(chunk.map((r) => ({ appliance_id: applianceId, seq: r.seq, hash: r.hash, at: r.at, key_id: r.keyId, signature: r.signature, received_at: now })))
        .onConflict(['appliance_id', 'seq'])
        .ignore();
    }
  }

  /** Each window keeps the value of its latest sequence; within a batch the last one wins. */
  private async storeCounters(trx: Database, applianceId: number, rows: readonly CounterRow[], now: string): Promise<void> {
    const latest = new Map<string, CounterRow>();
    for (const r of rows) latest.set(`${r.station}\0${r.window}`, r);
    for (const chunk of chunks(trx, [...latest.values()])) {
      await trx('sync_station_counters')
        .insert(chunk.map((r) => ({ appliance_id: applianceId, station: r.station, window: r.window, count: r.count, seq: r.seq, updated_at: now })))
        .onConflict(['appliance_id', 'station', 'window'])
        .merge(['count', 'seq', 'updated_at']);
    }
  }
}
