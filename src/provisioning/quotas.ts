import type { Database } from '../db/database.js';
import { ProvisioningError } from './errors.js';
import type { StationRecord } from './stations.js';

/** One counter a serial counts against: the station's total, its UTC hour or its UTC day. */
export interface QuotaWindow {
  /** 'total', 'h:YYYY-MM-DDTHH' or 'd:YYYY-MM-DD'. */
  readonly window: string;
  /** None: counted all the same, so a limit set later knows what was issued. */
  readonly limit: number | undefined;
}

/** A station's counters that a serial issued at `at` counts against. */
export interface QuotaCharge {
  readonly stationId: number;
  readonly stationName: string;
  readonly windows: readonly QuotaWindow[];
}

/** The windows a serial issued at `at` counts in: UTC calendar hours and days, so a message can say when more come. */
export function quotaCharge(station: StationRecord, at: Date): QuotaCharge {
  const stamp = at.toISOString();
  return {
    stationId: station.id,
    stationName: station.name,
    windows: [
      { window: 'total', limit: station.limits.total },
      { window: `d:${stamp.slice(0, 10)}`, limit: station.limits.perDay },
      { window: `h:${stamp.slice(0, 13)}`, limit: station.limits.perHour },
    ],
  };
}

const limited = (c: QuotaCharge) => c.windows.filter((w): w is QuotaWindow & { limit: number } => w.limit !== undefined);

/** The refusal for a full window, saying when it opens again and which option raises it. */
export function quotaExceeded(stationName: string, w: QuotaWindow & { limit: number }): ProvisioningError {
  if (w.window === 'total') {
    return new ProvisioningError('ERR_QUOTA_EXCEEDED', `station ${stationName} has issued all ${w.limit} serials it may (--total); raise it with serial-vault station update ${stationName} --total N`);
  }
  const hourly = w.window.startsWith('h:');
  const start = hourly ? `${w.window.slice(2)}:00:00Z` : `${w.window.slice(2)}T00:00:00Z`;
  const next = new Date(new Date(start).getTime() + (hourly ? 3600_000 : 86_400_000)).toISOString().replace('.000Z', 'Z');
  const option = hourly ? '--per-hour' : '--per-day';
  return new ProvisioningError(
    'ERR_QUOTA_EXCEEDED',
    `station ${stationName} has issued its ${w.limit} serials ${hourly ? 'for the hour' : 'for the day'} starting ${start} (${option}); more from ${next}, or raise it with serial-vault station update ${stationName} ${option} N`,
  );
}

/**
 * Station quotas, exact under concurrency and across restarts: a serial
 * counts when it is stored, in the same transaction (`charge`), by an
 * update that only succeeds below the limit. Before signing, `check`
 * refuses what would not fit, counting the serials this process is
 * signing for the station right now, so the HSM does not sign serials the
 * write would refuse.
 */
export class StationQuotas {
  /** Serials being signed now, per station and window. */
  private readonly signing = new Map<string, number>();

  constructor(private readonly db: Database) {}

  private key(stationId: number, window: string): string {
    return `${stationId}\0${window}`;
  }

  /** Refuses a serial the station's counters have no room for; otherwise holds a place until `done`. */
  async check(charge: QuotaCharge): Promise<() => void> {
    const windows = limited(charge);
    if (windows.length === 0) return () => undefined;
    const rows = (await this.db('station_counters').where({ station_id: charge.stationId }).whereIn('window', charge.windows.map((w) => w.window))) as Array<{ window: string; count: number }>;
    const counted = new Map(rows.map((r) => [r.window, Number(r.count)]));
    for (const w of windows) {
      const inFlight = this.signing.get(this.key(charge.stationId, w.window)) ?? 0;
      if ((counted.get(w.window) ?? 0) + inFlight >= w.limit) throw quotaExceeded(charge.stationName, w);
    }
    for (const w of windows) {
      const k = this.key(charge.stationId, w.window);
      this.signing.set(k, (this.signing.get(k) ?? 0) + 1);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const w of windows) {
        const k = this.key(charge.stationId, w.window);
        const n = (this.signing.get(k) ?? 1) - 1;
        if (n > 0) this.signing.set(k, n);
        else this.signing.delete(k);
      }
    };
  }

  /** Counts `n` serials in the caller's transaction, or throws the refusal of the first full window. */
  static async charge(trx: Database, charge: QuotaCharge, n = 1): Promise<void> {
    for (const w of charge.windows) {
      if (w.limit !== undefined && n > w.limit) throw quotaExceeded(charge.stationName, { ...w, limit: w.limit });
      // One statement per window (it runs in every issuance batch): the row made with the first serials, or counted on
      // only while the window stays within its limit; a refused count returns no row.
      const q = trx('station_counters')
        .insert({ station_id: charge.stationId, window: w.window, count: n })
        .onConflict(['station_id', 'window'])
        .merge({ count: trx.raw('?? + ?', ['station_counters.count', n]) });
      if (w.limit !== undefined) q.where('station_counters.count', '<=', w.limit - n);
      const counted = (await q.returning('count')) as unknown[];
      if (counted.length === 0 && w.limit !== undefined) throw quotaExceeded(charge.stationName, { ...w, limit: w.limit });
    }
  }

  /** What a station has used in each of its windows now. */
  async usage(station: StationRecord, at: Date): Promise<Array<QuotaWindow & { used: number }>> {
    const charge = quotaCharge(station, at);
    const rows = (await this.db('station_counters').where({ station_id: station.id }).whereIn('window', charge.windows.map((w) => w.window))) as Array<{ window: string; count: number }>;
    return charge.windows.map((w) => ({ ...w, used: Number(rows.find((r) => r.window === w.window)?.count ?? 0) }));
  }
}
