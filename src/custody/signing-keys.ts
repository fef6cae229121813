import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';

/**
 * What a key signs. `root`: a local authority's own account and keys;
 * `serials` and `models`: a brand's serials and model assertions (a brand
 * with no models key signs models with its serials key); `store`: a local
 * authority's snap-declarations and snap-revisions; `audit`: the audit
 * log's checkpoints; `appliance`: an appliance's identity towards central.
 */
export const KEY_PURPOSES = ['root', 'serials', 'models', 'store', 'audit', 'appliance'] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];
export const isKeyPurpose = (v: unknown): v is KeyPurpose => typeof v === 'string' && (KEY_PURPOSES as readonly string[]).includes(v);

/** Stored states; `retired` (past `until`) and `scheduled` (before `since`) follow from the window (key-state.ts). */
export type StoredKeyState = 'pending' | 'active' | 'revoked';

export interface SigningKeyRecord {
  readonly id: number;
  readonly brandId: number | undefined;
  /** The key's label in the HSM. */
  readonly label: string;
  /** snapd's key id (sha3-384 of the public key). */
  readonly keyId: string;
  readonly purpose: KeyPurpose;
  /** The account-key's name header. */
  readonly name: string;
  readonly state: StoredKeyState;
  /** The window the vault signs with it: from `since`, until `until` (exclusive) when set. */
  readonly since: string;
  readonly until: string | undefined;
  /** The key that took over when this one was rotated. */
  readonly replacedBy: number | undefined;
  readonly revokedAt: string | undefined;
  /** In the canonical setup, the account-key-request awaiting Canonical's account-key. */
  readonly accountKeyRequest: string | undefined;
  /** The appliance whose HSM holds the private half; undefined: this vault's authoritative HSM (central, standalone). */
  readonly heldBy: string | undefined;
  readonly createdAt: string;
}

const opt = (v: unknown) => (v === null || v === undefined ? undefined : String(v));
const optNumber = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

const toKey = (r: Record<string, unknown>): SigningKeyRecord => ({
  id: Number(r['id']),
  brandId: optNumber(r['brand_id']),
  label: String(r['label']),
  keyId: String(r['key_id']),
  purpose: String(r['purpose']) as KeyPurpose,
  name: opt(r['name']) ?? String(r['purpose']),
  state: String(r['state']) as StoredKeyState,
  since: opt(r['since']) ?? String(r['created_at']),
  until: opt(r['until']),
  replacedBy: optNumber(r['replaced_by']),
  revokedAt: opt(r['revoked_at']),
  accountKeyRequest: opt(r['account_key_request']),
  heldBy: opt(r['held_by']),
  createdAt: String(r['created_at']),
});

export interface NewKey {
  readonly label: string;
  readonly keyId: string;
  readonly purpose: KeyPurpose;
  readonly brandId?: number;
  readonly name?: string;
  readonly state?: StoredKeyState;
  readonly since?: string;
  readonly accountKeyRequest?: string;
  /** An appliance's name, for a key its own HSM holds (enrolment). */
  readonly heldBy?: string;
}

/** Which HSM key is which: label, snapd key id, owner, purpose and state. The private halves stay in the HSM. */
export class SigningKeyRepository {
  constructor(private readonly db: Database) {}

  /** Registers a key once; registering the same label again returns the first record (a set-up run again). */
  async add(k: NewKey): Promise<SigningKeyRecord> {
    const existing = await this.db('signing_keys').where({ label: k.label }).first();
    if (existing) return toKey(existing);
    const now = nowIso();
    const [row] = await this.db('signing_keys')
      .insert({
        label: k.label,
        key_id: k.keyId,
        purpose: k.purpose,
        brand_id: k.brandId ?? null,
        name: k.name ?? k.purpose,
        state: k.state ?? 'active',
        since: k.since ?? now,
        account_key_request: k.accountKeyRequest ?? null,
        ...(k.heldBy !== undefined ? { held_by: k.heldBy } : {}),
        created_at: now,
      })
      .returning('*');
    return toKey(row as Record<string, unknown>);
  }

  async update(id: number, change: Partial<{ state: StoredKeyState; since: string; until: string | null; replacedBy: number | null; revokedAt: string; accountKeyRequest: string | null }>): Promise<void> {
    const row: Record<string, unknown> = {};
    if (change.state !== undefined) row['state'] = change.state;
    if (change.since !== undefined) row['since'] = change.since;
    if (change.until !== undefined) row['until'] = change.until;
    if (change.replacedBy !== undefined) row['replaced_by'] = change.replacedBy;
    if (change.revokedAt !== undefined) row['revoked_at'] = change.revokedAt;
    if (change.accountKeyRequest !== undefined) row['account_key_request'] = change.accountKeyRequest;
    await this.db('signing_keys').where({ id }).update(row);
  }

  async byId(id: number): Promise<SigningKeyRecord | undefined> {
    const row = await this.db('signing_keys').where({ id }).first();
    return row ? toKey(row) : undefined;
  }

  async byLabel(label: string): Promise<SigningKeyRecord | undefined> {
    const row = await this.db('signing_keys').where({ label }).first();
    return row ? toKey(row) : undefined;
  }

  async byKeyId(keyId: string): Promise<SigningKeyRecord | undefined> {
    const row = await this.db('signing_keys').where({ key_id: keyId }).first();
    return row ? toKey(row) : undefined;
  }

  /** A brand's keys, every purpose and state, oldest first. */
  async ofBrand(brandId: number): Promise<SigningKeyRecord[]> {
    return (await this.db('signing_keys').where({ brand_id: brandId }).orderBy('id')).map(toKey);
  }

  /** A brand's serials keys (those models are registered with), oldest first. */
  async forBrand(brandId: number): Promise<SigningKeyRecord[]> {
    return (await this.db('signing_keys').where({ brand_id: brandId, purpose: 'serials' }).orderBy('id')).map(toKey);
  }

  /** Every key of the brand that owns key `id`: a model's key and its rotations. */
  async ofModelBrand(id: number): Promise<SigningKeyRecord[]> {
    return (await this.db('signing_keys').whereIn('brand_id', this.db('signing_keys').select('brand_id').where({ id })).orderBy('id')).map(toKey);
  }

  async byIds(ids: readonly number[]): Promise<SigningKeyRecord[]> {
    return (await this.db('signing_keys').whereIn('id', [...ids])).map(toKey);
  }

  async all(): Promise<SigningKeyRecord[]> {
    return (await this.db('signing_keys').orderBy('id')).map(toKey);
  }

  async roots(): Promise<SigningKeyRecord[]> {
    return (await this.db('signing_keys').where({ purpose: 'root' }).orderBy('id')).map(toKey);
  }

  /** The key of a local root authority this vault runs, if it runs that authority. */
  async rootOf(authorityId: string): Promise<SigningKeyRecord | undefined> {
    return (await this.roots()).find((k) => k.label === rootLabel(authorityId));
  }
}

/** The HSM label of a local root authority's key. */
export const rootLabel = (authorityId: string): string => `root-${authorityId}`;
