import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { hashSecret } from '../db/hashed-secrets.js';

export interface Session {
  readonly personId: number;
  readonly expiresAt: string;
}

/**
 * Browser sessions after a single sign-on. The cookie holds a random id;
 * the database only its hash, so a copy of the database opens no session.
 */
export class SessionRepository {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(personId: number, ttlMs: number): Promise<{ id: string; expiresAt: Date }> {
    const id = randomBytes(32).toString('base64url');
    const now = this.clock();
    const expiresAt = new Date(now.getTime() + ttlMs);
    await this.db('sessions').insert({ id_hash: hashSecret(id), person_id: personId, created_at: nowIso(now), expires_at: nowIso(expiresAt), revoked_at: null });
    return { id, expiresAt };
  }

  async lookup(id: string): Promise<Session | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const row = await this.db('sessions').where({ id_hash: hashSecret(id) }).whereNull('revoked_at').first();
    if (!row || Date.parse(String(row.expires_at)) <= this.clock().getTime()) return undefined;
    return { personId: Number(row.person_id), expiresAt: String(row.expires_at) };
  }

  async revoke(id: string): Promise<void> {
    await this.db('sessions').where({ id_hash: hashSecret(id) }).whereNull('revoked_at').update({ revoked_at: nowIso(this.clock()) });
  }

  /** Forgets sessions that ended (expired or signed out) more than a day ago; returns how many. */
  async prune(): Promise<number> {
    const dayAgo = nowIso(new Date(this.clock().getTime() - 86400_000));
    return this.db('sessions').where('expires_at', '<', dayAgo).orWhere('revoked_at', '<', dayAgo).delete();
  }

  async revokeAllOf(personId: number): Promise<void> {
    await this.db('sessions').where({ person_id: personId }).whereNull('revoked_at').update({ revoked_at: nowIso(this.clock()) });
  }
}
