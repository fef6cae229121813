import type { Database, Query } from '../db/database.js';
import { toCsv } from './csv.js';

/** One row of the issuance log, as people search it. */
export interface IssuanceEntry {
  readonly id: number;
  readonly serial: string;
  readonly model: string;
  readonly station: string | null;
  readonly outcome: string;
  readonly issuedAt: string;
  readonly deviceKeyId: string;
  readonly signingKeyId: string;
  /** The instance (or `appliance:NAME`) that issued it. */
  readonly origin: string | null;
  /** A remodel: the serial the device had, as brand/model/serial. */
  readonly original: string | null;
}

export interface IssuanceQuery {
  readonly brandId: string;
  /** A serial, or its beginning followed by `*`. */
  readonly serial?: string;
  readonly model?: string;
  readonly station?: string;
  readonly from?: Date;
  readonly until?: Date;
  /** Rows with a smaller id than this (the `next` of the page before). */
  readonly before?: number;
  readonly limit?: number;
}

const CSV_FIELDS = ['id', 'serial', 'model', 'station', 'outcome', 'issued_at', 'device_key', 'signing_key', 'origin', 'original'] as const;
/** What one CSV export holds at most: a year of a busy line is far below it. */
export const CSV_MAX_ROWS = 100_000;

/**
 * The brand's issuance log, newest first: by serial (exact, or a prefix
 * ending in `*`), model, station and time, a page at a time; and the same
 * as CSV.
 */
export class IssuanceSearch {
  constructor(private readonly db: Database) {}

  async search(q: IssuanceQuery): Promise<{ items: IssuanceEntry[]; next: number | null }> {
    const limit = Math.min(q.limit ?? 100, 1000);
    const rows = (await this.query(q).limit(limit + 1)) as Array<Record<string, unknown>>;
    const items = rows.slice(0, limit).map(entry);
    return { items, next: rows.length > limit ? items.at(-1)!.id : null };
  }

  async csv(q: IssuanceQuery): Promise<string> {
    const rows = ((await this.query(q).limit(CSV_MAX_ROWS)) as Array<Record<string, unknown>>).map(entry);
    return toCsv(CSV_FIELDS, rows.map((r) => [r.id, r.serial, r.model, r.station, r.outcome, r.issuedAt, r.deviceKeyId, r.signingKeyId, r.origin, r.original]));
  }

  private query(q: IssuanceQuery): Query {
    const query = this.db('issuance_log').where('brand_id', q.brandId);
    if (q.serial !== undefined) {
      // A prefix compared as it is written: LIKE ignores case on SQLite and not on PostgreSQL.
      if (q.serial.endsWith('*')) query.whereRaw('substr(serial, 1, ?) = ?', [q.serial.length - 1, q.serial.slice(0, -1)]);
      else query.where('serial', q.serial);
    }
    if (q.model !== undefined) query.where('model', q.model);
    if (q.station !== undefined) query.where('station', q.station);
    if (q.from) query.where('issued_at', '>=', q.from.toISOString());
    if (q.until) query.where('issued_at', '<', q.until.toISOString());
    if (q.before !== undefined) query.where('id', '<', q.before);
    return query.orderBy('id', 'desc').select('id', 'serial', 'model', 'station', 'outcome', 'issued_at', 'device_key_id', 'signing_key_id', 'origin', 'original');
  }
}

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

function entry(r: Record<string, unknown>): IssuanceEntry {
  return {
    id: Number(r['id']),
    serial: String(r['serial']),
    model: String(r['model']),
    station: text(r['station']),
    outcome: String(r['outcome']),
    issuedAt: String(r['issued_at']),
    deviceKeyId: String(r['device_key_id']),
    signingKeyId: String(r['signing_key_id']),
    origin: text(r['origin']),
    original: text(r['original']),
  };
}
