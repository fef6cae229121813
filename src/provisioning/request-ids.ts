import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';

export type RequestIdState = { readonly state: 'fresh' } | { readonly state: 'unknown' } | { readonly state: 'expired' } | { readonly state: 'used'; readonly by: string };

/** Single-use nonces a device puts in its serial-request, valid for a while. */
export class RequestIdRepository {
  constructor(
    private readonly db: Database,
    private readonly ttlMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(apiKeyId: number): Promise<string> {
    const id = randomBytes(24).toString('base64url');
    await this.db('request_ids').insert({ id, api_key_id: apiKeyId, expires_at: nowIso(new Date(this.clock().getTime() + this.ttlMs)) });
    return id;
  }

  async state(id: string, apiKeyId: number): Promise<RequestIdState> {
    const row = await this.db('request_ids').where({ id, api_key_id: apiKeyId }).first();
    if (!row) return { state: 'unknown' };
    if (row.used_at) return { state: 'used', by: String(row.used_by) };
    if (String(row.expires_at) <= nowIso(this.clock())) return { state: 'expired' };
    return { state: 'fresh' };
  }

  /** Marks the id used by a serial-request (its SHA-256), in the caller's transaction. */
  async consume(trx: Database, id: string, requestHash: string): Promise<boolean> {
    const n = await trx('request_ids').where({ id }).whereNull('used_at').update({ used_at: nowIso(this.clock()), used_by: requestHash });
    return n === 1;
  }

  /** Forgets ids that expired more than a day ago (used ones stay a day for re-posts and audit). */
  async prune(): Promise<number> {
    return this.db('request_ids').where('expires_at', '<', nowIso(new Date(this.clock().getTime() - 24 * 3600 * 1000))).delete();
  }
}
