import type { Database } from '../db/database.js';
import { toCsv } from './csv.js';

/** What became of one registration: a serial answered, a 202, or a refusal by its code. */
export type RegistrationOutcome = 'issued' | 'repeated' | 'reprovisioned' | 'queued' | `refused:${string}`;

export interface RegistrationEvent {
  /** The station's name; '' when there is none (no API key, or an invalid one). */
  readonly station: string;
  readonly brandId: string;
  /** A registered model's name; '' when the request named none this vault has. */
  readonly model: string;
  readonly outcome: RegistrationOutcome;
}

export interface ReportRow extends RegistrationEvent {
  /** The hour or day it counts in: 'YYYY-MM-DDTHH' or 'YYYY-MM-DD' (UTC). */
  readonly period: string;
  readonly count: number;
}

export interface ReportQuery {
  readonly brandId?: string;
  readonly station?: string;
  readonly model?: string;
  readonly from?: Date;
  readonly until?: Date;
  readonly by?: 'hour' | 'day';
}

const FLUSH_MS = 5000;
const CSV_FIELDS = ['period', 'brand', 'station', 'model', 'outcome', 'count'] as const;

/** A report as CSV, one line per period, station, model and outcome. */
export function reportCsv(rows: readonly ReportRow[]): string {
  return toCsv(CSV_FIELDS, rows.map((r) => [r.period, r.brandId, r.station, r.model, r.outcome, r.count]));
}

/**
 * Registrations counted per hour, station, model and outcome. Events are
 * added up in memory and written every few seconds as increments, so a
 * flood of refusals costs no write per request; a crash loses at most the
 * last few seconds of figures, never a serial (those are in the issuance log).
 */
export class RegistrationStats {
  private pending = new Map<string, { hour: string; event: RegistrationEvent; n: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  count(event: RegistrationEvent): void {
    const hour = this.clock().toISOString().slice(0, 13);
    const key = [hour, event.station, event.brandId, event.model, event.outcome].join('\0');
    const entry = this.pending.get(key);
    if (entry) entry.n++;
    else this.pending.set(key, { hour, event, n: 1 });
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes what was counted since the last flush. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.db
        .transaction(async (trx) => {
          for (const { hour, event, n } of batch) {
            await trx('registration_stats')
              .insert({ hour, station: event.station, brand_id: event.brandId, model: event.model, outcome: event.outcome, count: n })
              .onConflict(['hour', 'station', 'brand_id', 'model', 'outcome'])
              .merge({ count: trx.raw('registration_stats.count + ?', [n]) });
          }
        })
        .catch(() => {
          // The database is away: count these again with the next flush rather than lose them.
          for (const e of batch) {
            const key = [e.hour, e.event.station, e.event.brandId, e.event.model, e.event.outcome].join('\0');
            const now = this.pending.get(key);
            if (now) now.n += e.n;
            else this.pending.set(key, e);
          }
        }),
    );
    return this.flushing;
  }

  /** Counts per period (hour or day), station, model and outcome, oldest first. */
  async report(q: ReportQuery = {}): Promise<ReportRow[]> {
    await this.flush();
    const query = this.db('registration_stats');
    if (q.brandId !== undefined) query.where({ brand_id: q.brandId });
    if (q.station !== undefined) query.where({ station: q.station });
    if (q.model !== undefined) query.where({ model: q.model });
    if (q.from) query.where('hour', '>=', q.from.toISOString().slice(0, 13));
    if (q.until) query.where('hour', '<', q.until.toISOString().slice(0, 13));
    const rows = (await query.orderBy(['hour', 'brand_id', 'station', 'model', 'outcome'])) as Array<Record<string, unknown>>;
    const byDay = q.by === 'day';
    const merged = new Map<string, ReportRow>();
    for (const r of rows) {
      const period = byDay ? String(r['hour']).slice(0, 10) : String(r['hour']);
      const row = { period, station: String(r['station']), brandId: String(r['brand_id']), model: String(r['model']), outcome: String(r['outcome']) as RegistrationOutcome };
      const key = [row.period, row.brandId, row.station, row.model, row.outcome].join('\0');
      const had = merged.get(key);
      merged.set(key, { ...row, count: (had?.count ?? 0) + Number(r['count']) });
    }
    return [...merged.values()];
  }
}
