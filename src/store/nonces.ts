import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';

/**
 * Nonces for device-session-requests: random, handed out by
 * `api/v1/snaps/auth/nonces`, each good for one session request within its
 * lifetime. They are not secrets (a device signs one into its request), so
 * they are kept as they are.
 */
export class NonceRepository {
  constructor(
    private readonly db: Database,
    private readonly ttlMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async issue(): Promise<string> {
    const nonce = randomBytes(24).toString('base64url');
    await this.db('device_nonces').insert({ nonce, expires_at: nowIso(new Date(this.clock().getTime() + this.ttlMs)), used_at: null });
    return nonce;
  }

  /** Marks the nonce used; false when it is unknown, used already or expired. One statement, so two requests racing with one nonce cannot both win. */
  async consume(nonce: string, trx: Database = this.db): Promise<boolean> {
    const now = nowIso(this.clock());
    const changed = await trx('device_nonces').where({ nonce }).whereNull('used_at').andWhere('expires_at', '>', now).update({ used_at: now });
    return Number(changed) === 1;
  }

  /** Forgets nonces an hour past their expiry. */
  async prune(): Promise<number> {
    return Number(await this.db('device_nonces').where('expires_at', '<', nowIso(new Date(this.clock().getTime() - 3600_000))).delete());
  }
}
