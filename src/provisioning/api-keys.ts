import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { hashSecret, matchesHash } from '../db/hashed-secrets.js';

export interface ApiKeyRecord {
  readonly id: number;
  readonly modelId: number;
  readonly name: string;
  readonly prefix: string;
}

/**
 * API keys for factory lines and device fleets, one or more per model. The
 * key is `sv_<prefix>_<secret>`: the prefix finds the row, the secret is
 * kept only as a SHA-256 hash (it has 192 bits of entropy, so no slow hash
 * is needed) and compared in constant time. Shown once, at creation.
 */
export class ApiKeyRepository {
  constructor(private readonly db: Database) {}

  async create(modelId: number, name: string): Promise<{ record: ApiKeyRecord; key: string }> {
    const prefix = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    const [row] = await this.db('api_keys').insert({ model_id: modelId, name, prefix, hash: hashSecret(secret), created_at: nowIso() }).returning('id');
    const id = typeof row === 'object' ? (row as { id: number }).id : (row as number);
    return { record: { id, modelId, name, prefix }, key: `sv_${prefix}_${secret}` };
  }

  /** The key's record when `key` is a valid, unrevoked API key; undefined otherwise. */
  async verify(key: string | undefined): Promise<ApiKeyRecord | undefined> {
    const m = /^sv_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(key ?? '');
    if (!m) return undefined;
    const row = await this.db('api_keys').where({ prefix: m[1] }).whereNull('revoked_at').first();
    if (!row) return undefined;
    if (!matchesHash(m[2] as string, String(row.hash))) return undefined;
    return { id: Number(row.id), modelId: Number(row.model_id), name: String(row.name), prefix: String(row.prefix) };
  }

  async revoke(prefix: string): Promise<boolean> {
    return (await this.db('api_keys').where({ prefix }).whereNull('revoked_at').update({ revoked_at: nowIso() })) > 0;
  }

  async list(modelId?: number): Promise<(ApiKeyRecord & { revoked: boolean })[]> {
    const q = this.db('api_keys').orderBy('id');
    if (modelId !== undefined) q.where({ model_id: modelId });
    return (await q).map((r) => ({ id: Number(r.id), modelId: Number(r.model_id), name: String(r.name), prefix: String(r.prefix), revoked: r.revoked_at !== null }));
  }
}
