import { z } from 'zod';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { SyncError } from './errors.js';
import type { ApplianceContext } from './upstream.js';

/** The most numbers one lease may carry (config upstream.leaseSize has the same bound). */
export const MAX_LEASE_SIZE = 1_000_000;

export const LeaseRequest = z.strictObject({
  brand: z.string().min(1).max(64),
  model: z.string().min(1).max(128),
  size: z.number().int().min(1).max(MAX_LEASE_SIZE),
});
export type LeaseRequest = z.output<typeof LeaseRequest>;

/** Numbers first..end-1 of the model's serial template belong to the appliance that was granted them. */
export interface Lease {
  readonly model: string;
  readonly first: number;
  readonly end: number;
}

const invalid = (message: string) => new SyncError('ERR_SYNC_LEASE_INVALID', message);

/**
 * Central grants appliances ranges of a model's template numbers. The
 * range comes off `models.next_serial_number` in one statement, the same
 * counter central's own serials take from, so no two appliances, and not
 * central either, ever hold the same number, whichever replica answered.
 * A grant whose answer is lost leaves a gap in the numbers, never a
 * duplicate.
 */
export class LeaseGrants {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async grant(appliance: ApplianceContext, body: unknown): Promise<Lease> {
    const parsed = LeaseRequest.safeParse(body);
    if (!parsed.success) {
      throw invalid(`cannot lease serial numbers: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')} (expected {brand, model, size: 1..${MAX_LEASE_SIZE}})`);
    }
    const { brand, model, size } = parsed.data;
    if (brand !== appliance.brandAccountId) throw invalid(`appliance "${appliance.name}" serves brand "${appliance.brandAccountId}", not "${brand}": it may lease only that brand's model numbers`);
    const row = (await this.db('models').where({ brand_id: appliance.brandId, name: model }).first('id', 'serial_policy')) as { id: number; serial_policy: string } | undefined;
    if (!row) throw invalid(`brand "${brand}" has no model "${model}"; check the model name, or wait for central's models to reach the appliance`);
    if (row.serial_policy !== 'template') throw invalid(`model "${model}" takes the serials devices propose, not numbered ones: it needs no lease`);
    return this.db.transaction(async (trx) => {
      const [moved] = await trx('models').where({ id: row.id }).increment('next_serial_number', size).returning('next_serial_number');
      const end = Number(typeof moved === 'object' ? (moved as { next_serial_number: number }).next_serial_number : moved);
      const first = end - size;
      await trx('sync_leases').insert({ appliance_id: appliance.id, model_id: row.id, first_number: first, end_number: end, granted_at: nowIso(this.clock()) });
      return { model, first, end };
    });
  }

  /** The ranges an appliance was granted, oldest first: what an operator checks when numbers look missing. */
  async granted(applianceId: number): Promise<Array<Lease & { grantedAt: string }>> {
    const rows = (await this.db('sync_leases as l').join('models as m', 'm.id', 'l.model_id').where('l.appliance_id', applianceId).orderBy('l.id').select('m.name', 'l.first_number', 'l.end_number', 'l.granted_at')) as Array<{
      name: string;
      first_number: number;
      end_number: number;
      granted_at: string;
    }>;
    return rows.map((r) => ({ model: r.name, first: Number(r.first_number), end: Number(r.end_number), grantedAt: r.granted_at }));
  }
}
