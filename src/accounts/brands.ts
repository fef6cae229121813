import { VALID_ACCOUNT_ID } from '../assertions/checks.js';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { AccountsError } from './errors.js';

/**
 * A brand's account id as snapd accepts it where it names a brand (a
 * model's or serial's brand-id): 32 letters and digits, or 2–28 lower-case
 * letters, digits and dashes. A display name is not empty.
 */
export function checkBrandIdentity(accountId: string, displayName: string): void {
  if (!VALID_ACCOUNT_ID.test(accountId)) {
    throw new AccountsError('ERR_INVALID_INPUT', `"${accountId}" cannot be a brand account id: use 2 to 28 lower-case letters, digits and dashes (or the 32-character id the store assigned)`);
  }
  if (displayName.trim() === '') throw new AccountsError('ERR_INVALID_INPUT', `brand "${accountId}" needs a display name`);
}

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
    checkBrandIdentity(accountId, displayName);
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
