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

  async create(accountId: string, displayName: string): Promise<Brand> {
    const [row] = await this.db('brands').insert({ account_id: accountId, display_name: displayName, created_at: nowIso() }).returning('*');
    return toBrand(row as Record<string, unknown>);
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
