import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { hashSecret } from '../db/hashed-secrets.js';

/** A device's session: who it is, and which store's offer it sees. */
export interface DeviceSession {
  readonly brandId: string;
  readonly model: string;
  readonly serial: string;
  readonly deviceKeyId: string;
  /** The store its model names, when this vault serves it for that brand; null: the anonymous view. */
  readonly storeId: string | null;
  readonly expiresAt: string;
}

const toSession = (r: Record<string, unknown>): DeviceSession => ({
  brandId: String(r['brand_id']),
  model: String(r['model']),
  serial: String(r['serial']),
  deviceKeyId: String(r['device_key_id']),
  storeId: r['store_id'] === null || r['store_id'] === undefined ? null : String(r['store_id']),
  expiresAt: String(r['expires_at']),
});

/**
 * Device sessions. snapd treats a session as an opaque string it sends back
 * in `Macaroon root="…"`; ours are 256 random bits, kept only as their
 * SHA-256, so the database alone cannot be replayed against the store.
 */
export class SessionRepository {
  constructor(
    private readonly db: Database,
    private readonly ttlMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(session: Omit<DeviceSession, 'expiresAt'>, trx: Database = this.db): Promise<{ token: string; session: DeviceSession }> {
    const token = `sv1-${randomBytes(32).toString('base64url')}`;
    const now = this.clock();
    const row = {
      token_hash: hashSecret(token),
      brand_id: session.brandId,
      model: session.model,
      serial: session.serial,
      device_key_id: session.deviceKeyId,
      store_id: session.storeId,
      created_at: nowIso(now),
      expires_at: nowIso(new Date(now.getTime() + this.ttlMs)),
    };
    await trx('device_sessions').insert(row);
    return { token, session: toSession(row) };
  }

  /** The session a token names, expired or not (the caller tells the two apart). */
  async find(token: string): Promise<DeviceSession | undefined> {
    const row = await this.db('device_sessions').where({ token_hash: hashSecret(token) }).first();
    return row ? toSession(row as Record<string, unknown>) : undefined;
  }

  /** Ends a session (the one a device replaces when it refreshes). */
  async end(token: string, trx: Database = this.db): Promise<void> {
    await trx('device_sessions').where({ token_hash: hashSecret(token) }).delete();
  }

  /** Forgets sessions a day past their expiry. */
  async prune(): Promise<number> {
    return Number(await this.db('device_sessions').where('expires_at', '<', nowIso(new Date(this.clock().getTime() - 86_400_000))).delete());
  }
}
