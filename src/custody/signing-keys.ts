import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';

/** `store`: a local authority's key for snap-declarations and snap-revisions, apart from its root key. */
export type KeyPurpose = 'root' | 'brand' | 'store';

export interface SigningKeyRecord {
  readonly id: number;
  readonly brandId: number | undefined;
  /** The key's label in the HSM. */
  readonly label: string;
  /** snapd's key id (sha3-384 of the public key). */
  readonly keyId: string;
  readonly purpose: KeyPurpose;
}

const toKey = (r: Record<string, unknown>): SigningKeyRecord => ({
  id: Number(r['id']),
  brandId: r['brand_id'] === null || r['brand_id'] === undefined ? undefined : Number(r['brand_id']),
  label: String(r['label']),
  keyId: String(r['key_id']),
  purpose: r['purpose'] === 'root' ? 'root' : 'brand',
});

/** Which HSM key is which: label, snapd key id, owner. The private halves stay in the HSM. */
export class SigningKeyRepository {
  constructor(private readonly db: Database) {}

  async register(label: string, keyId: string, purpose: KeyPurpose, brandId?: number): Promise<SigningKeyRecord> {
    const existing = await this.db('signing_keys').where({ label }).first();
    if (existing) return toKey(existing);
    const [row] = await this.db('signing_keys').insert({ label, key_id: keyId, purpose, brand_id: brandId ?? null, created_at: nowIso() }).returning('*');
    return toKey(row as Record<string, unknown>);
  }

  async byId(id: number): Promise<SigningKeyRecord | undefined> {
    const row = await this.db('signing_keys').where({ id }).first();
    return row ? toKey(row) : undefined;
  }

  async byLabel(label: string): Promise<SigningKeyRecord | undefined> {
    const row = await this.db('signing_keys').where({ label }).first();
    return row ? toKey(row) : undefined;
  }

  async forBrand(brandId: number): Promise<SigningKeyRecord[]> {
    return (await this.db('signing_keys').where({ brand_id: brandId, purpose: 'brand' }).orderBy('id')).map(toKey);
  }

  async roots(): Promise<SigningKeyRecord[]> {
    return (await this.db('signing_keys').where({ purpose: 'root' }).orderBy('id')).map(toKey);
  }
}
