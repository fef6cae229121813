import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { hashSecret, matchesHash } from '../db/hashed-secrets.js';
import type { Role } from './roles.js';

export interface AccessToken {
  readonly id: number;
  readonly personId: number;
  readonly name: string;
  readonly prefix: string;
  /** Store ids the token may act on (with what their grants reach); null: every store of the person. */
  readonly stores: readonly string[] | null;
  /** Roles the token may use; null: every role of the person. */
  readonly roles: readonly Role[] | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
  /** The token this one was made with, if any: it never outlives it. */
  readonly parentId: number | null;
}

const list = (v: unknown) => (v === null || v === undefined ? null : (JSON.parse(String(v)) as string[]));

const toToken = (r: Record<string, unknown>): AccessToken => ({
  id: Number(r['id']),
  personId: Number(r['person_id']),
  name: String(r['name']),
  prefix: String(r['prefix']),
  stores: list(r['stores']),
  roles: list(r['roles']) as Role[] | null,
  createdAt: String(r['created_at']),
  expiresAt: String(r['expires_at']),
  lastUsedAt: r['last_used_at'] ? String(r['last_used_at']) : null,
  revokedAt: r['revoked_at'] ? String(r['revoked_at']) : null,
  parentId: r['parent_id'] === null || r['parent_id'] === undefined ? null : Number(r['parent_id']),
});

/** What a token looks like: `svp_<12 hex>_<43 base64url>`; log scrubbers and secret scanners match on it. */
export const TOKEN_PATTERN = /^svp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/**
 * Personal access tokens for the CLI and factory stations. As with API
 * keys, the prefix finds the row and the 256-bit secret is kept only as a
 * SHA-256 hash, compared in constant time; the whole token is shown once.
 */
export class AccessTokenRepository {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(input: { personId: number; name: string; stores: readonly string[] | null; roles: readonly Role[] | null; expiresAt: Date; parentId?: number }): Promise<{ token: AccessToken; secret: string }> {
    const prefix = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const row = {
      person_id: input.personId,
      name: input.name,
      prefix,
      hash: hashSecret(secret),
      stores: input.stores ? JSON.stringify(input.stores) : null,
      roles: input.roles ? JSON.stringify(input.roles) : null,
      created_at: nowIso(this.clock()),
      expires_at: nowIso(input.expiresAt),
      last_used_at: null,
      revoked_at: null,
      parent_id: input.parentId ?? null,
    };
    const [id] = await this.db('access_tokens').insert(row).returning('id');
    return { token: toToken({ ...row, id: typeof id === 'object' ? (id as { id: number }).id : id }), secret: `svp_${prefix}_${secret}` };
  }

  /** The token when `secret` is a valid one that is neither revoked nor expired. */
  async verify(secret: string): Promise<AccessToken | undefined> {
    const m = TOKEN_PATTERN.exec(secret);
    if (!m) return undefined;
    const row = await this.db('access_tokens').where({ prefix: m[1] }).first();
    if (!row) return undefined;
    if (!matchesHash(m[2] as string, String(row.hash))) return undefined;
    const token = toToken(row);
    if (!(await this.live(token))) return undefined;
    // Good enough to within a minute; saves a write per request.
    if (!token.lastUsedAt || this.clock().getTime() - Date.parse(token.lastUsedAt) > 60_000) {
      await this.db('access_tokens').where({ id: token.id }).update({ last_used_at: nowIso(this.clock()) });
    }
    return token;
  }

  /** Neither revoked nor expired, and neither is any token it was made with. */
  private async live(token: AccessToken): Promise<boolean> {
    const now = this.clock().getTime();
    let t: AccessToken | undefined = token;
    for (let depth = 0; t && depth < 64; depth++) {
      if (t.revokedAt !== null || Date.parse(t.expiresAt) <= now) return false;
      if (t.parentId === null) return true;
      t = await this.byId(t.parentId);
    }
    return false;
  }

  async byId(id: number): Promise<AccessToken | undefined> {
    const row = await this.db('access_tokens').where({ id }).first();
    return row ? toToken(row) : undefined;
  }

  async forPerson(personId: number): Promise<AccessToken[]> {
    return (await this.db('access_tokens').where({ person_id: personId }).orderBy('id')).map(toToken);
  }

  async revoke(id: number): Promise<boolean> {
    return (await this.db('access_tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: nowIso(this.clock()) })) > 0;
  }

}
