import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';

export interface Brand {
  readonly id: number;
  readonly accountId: string;
  readonly displayName: string;
}

const toBrand = (r: Record<string, unknown>): Brand => ({ id: Number(r['id']), accountId: String(r['account_id']), displayName: String(r['display_name']) });

/** Brand accounts: the account id as snapd validates it and a display name. */
export class BrandRepository {
  constructor(private readonly db: Database) {}

  /** A brand comes with its brand store (id: the account id), the root of its store tree. */
  async create(accountId: string, displayName: string): Promise<Brand> {
    return this.db.transaction(async (trx) => {
      const createdAt = nowIso();
      const [row] = await trx('brands').insert({ account_id: accountId, display_name: displayName, created_at: createdAt }).returning('*');
      const brand = toBrand(row as Record<string, unknown>);
      await trx('stores').insert({ id: accountId, name: displayName, brand_id: brand.id, parent_id: null, kind: 'brand', created_at: createdAt });
      return brand;
    });
  }

  async byAccountId(accountId: string): Promise<Brand | undefined> {
    const row = await this.db('brands').where({ account_id: accountId }).first();
    return row ? toBrand(row) : undefined;
  }

  async byId(id: number): Promise<Brand | undefined> {
    const row = await this.db('brands').where({ id }).first();
    return row ? toBrand(row) : undefined;
  }

  async list(): Promise<Brand[]> {
    return (await this.db('brands').orderBy('account_id')).map(toBrand);
  }
}
