import type { Database } from '../db/database.js';
import type { IssuanceRow } from './push-batch.js';

/** A serial two origins gave to two device keys: reported, never merged. */
export interface SyncConflict {
  readonly id: number;
  readonly brand: string;
  readonly model: string;
  readonly serial: string;
  readonly sides: readonly [{ origin: string; deviceKey: string }, { origin: string; deviceKey: string }];
  readonly detectedAt: string;
}

const toConflict = (r: Record<string, unknown>): SyncConflict => ({
  id: Number(r['id']),
  brand: String(r['brand_id']),
  model: String(r['model']),
  serial: String(r['serial']),
  sides: [
    { origin: String(r['origin_a']), deviceKey: String(r['device_key_a']) },
    { origin: String(r['origin_b']), deviceKey: String(r['device_key_b']) },
  ],
  detectedAt: String(r['detected_at']),
});

/** Serials per statement when looking for other origins' rows: a whole batch, on both databases. */
const LOOKUP_CHUNK = 2000;

/**
 * Finds, in the pushing transaction, serials of the batch that another
 * origin gave to another device key, and records each pair once. Vault
 * allocated serials come from disjoint leases and never meet here; serials
 * devices propose themselves do when two appliances issued them while
 * partitioned. Concurrent pushes of one model are serialised by the caller
 * (a PostgreSQL advisory lock), so neither misses the other's rows.
 * Returns the conflicts found for the first time.
 */
export async function detectConflicts(trx: Database, origin: string, rows: readonly IssuanceRow[], detectedAt: string): Promise<SyncConflict[]> {
  const byModel = new Map<string, { brand: string; model: string; serials: Map<string, Set<string>> }>();
  for (const r of rows) {
    const k = `${r.brandId}/${r.model}`;
    const group = byModel.get(k) ?? { brand: r.brandId, model: r.model, serials: new Map<string, Set<string>>() };
    byModel.set(k, group);
    const keys = group.serials.get(r.serial) ?? new Set<string>();
    keys.add(r.deviceKeyId);
    group.serials.set(r.serial, keys);
  }
  const found: SyncConflict[] = [];
  for (const { brand, model, serials } of byModel.values()) {
    const all = [...serials.keys()];
    for (let i = 0; i < all.length; i += LOOKUP_CHUNK) {
      const others = (await trx('issuance_log')
        .where({ brand_id: brand, model })
        .whereIn('serial', all.slice(i, i + LOOKUP_CHUNK))
        // Rows from before origins were recorded count as another origin's.
        .andWhere((q) => q.whereNot({ origin }).orWhereNull('origin'))
        .distinct('serial', 'origin', 'device_key_id')) as Array<{ serial: string; origin: string | null; device_key_id: string }>;
      for (const other of others) {
        for (const mine of serials.get(other.serial) ?? []) {
          if (mine === other.device_key_id) continue;
          const here = { origin, deviceKey: mine };
          const there = { origin: other.origin ?? 'unknown', deviceKey: other.device_key_id };
          const [a, b] = here.origin < there.origin ? [here, there] : [there, here];
          const inserted = await trx('sync_conflicts')
            .insert({ brand_id: brand, model, serial: other.serial, origin_a: a.origin, device_key_a: a.deviceKey, origin_b: b.origin, device_key_b: b.deviceKey, detected_at: detectedAt })
            .onConflict(['brand_id', 'model', 'serial', 'origin_a', 'device_key_a', 'origin_b', 'device_key_b'])
            .ignore()
            .returning('id');
          const row = inserted[0] as { id: number } | number | undefined;
          if (row === undefined) continue;
          found.push({ id: Number(typeof row === 'object' ? row.id : row), brand, model, serial: other.serial, sides: [a, b], detectedAt });
        }
      }
    }
  }
  return found;
}

/** The conflicts central recorded, for the admin API. */
export class SyncConflicts {
  constructor(private readonly db: Database) {}

  /** A brand's conflicts, newest first, `limit` at most, before the conflict `before` when paging. */
  async list(brand: string, options: { before?: number; limit?: number } = {}): Promise<SyncConflict[]> {
    const q = this.db('sync_conflicts').where({ brand_id: brand }).orderBy('id', 'desc').limit(options.limit ?? 100);
    if (options.before !== undefined) q.andWhere('id', '<', options.before);
    return ((await q) as Array<Record<string, unknown>>).map(toConflict);
  }

  async count(): Promise<number> {
    const [row] = await this.db('sync_conflicts').count({ n: '*' });
    return Number((row as { n: unknown }).n);
  }
}
