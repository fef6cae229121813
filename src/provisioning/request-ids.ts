import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '../db/database.js';
import { vaultSecret } from '../db/settings.js';
import { nowIso } from '../db/errors.js';
import { preparedFirst } from '../db/prepared.js';

export type RequestIdState =
  | { readonly state: 'fresh'; readonly expiresAt: Date }
  | { readonly state: 'unknown' }
  | { readonly state: 'expired' }
  | { readonly state: 'used'; readonly by: string };

const VERSION = 1;
/** Whether, and by which serial-request, an id was used: read for every registration (prepared.ts). */
const usedBy = preparedFirst<{ used_by: string }>('select used_by from request_ids where id = ? limit 1');
const SECRET_SETTING = 'request-id-secret';
/** 21 bytes of payload and a 16-byte MAC, unpadded base64url, one dot. */
const REQUEST_ID = /^([A-Za-z0-9_-]{28})\.([A-Za-z0-9_-]{22})$/;

/**
 * Single-use nonces a device puts in its serial-request, valid for a while.
 * Handing one out costs no database write: it is a token (expiry, API key,
 * randomness) with an HMAC under a per-vault secret. Only used ones are
 * stored, with the serial-request that used them, when the serial is.
 */
export class RequestIdRepository {
  private secret: Buffer | undefined;

  constructor(
    private readonly db: Database,
    private readonly ttlMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Loads (or creates) the vault's request-id secret; call once at start. */
  async start(): Promise<void> {
    this.secret = await vaultSecret(this.db, SECRET_SETTING);
  }

  private mac(payload: Buffer): Buffer {
    if (!this.secret) throw new Error('RequestIdRepository.start() was not called');
    return createHmac('sha256', this.secret).update(payload).digest().subarray(0, 16);
  }

  async create(apiKeyId: number): Promise<string> {
    const payload = Buffer.alloc(21);
    payload[0] = VERSION;
    payload.writeUInt32BE(Math.floor((this.clock().getTime() + this.ttlMs) / 1000), 1);
    payload.writeUInt32BE(apiKeyId, 5);
    randomBytes(12).copy(payload, 9);
    return `${payload.toString('base64url')}.${this.mac(payload).toString('base64url')}`;
  }

  /**
   * What the token says, and whether a serial-request already used it. Only
   * the exact spelling `create` writes is a request-id: Node's base64url
   * decoder skips padding and stray characters, so a lenient parse would let
   * one id be used once per spelling.
   */
  async state(id: string, apiKeyId: number): Promise<RequestIdState> {
    const match = REQUEST_ID.exec(id);
    if (!match) return { state: 'unknown' };
    const payload = Buffer.from(match[1] as string, 'base64url');
    const mac = Buffer.from(match[2] as string, 'base64url');
    if (payload.toString('base64url') !== match[1] || mac.toString('base64url') !== match[2]) return { state: 'unknown' };
    if (payload[0] !== VERSION || !timingSafeEqual(mac, this.mac(payload))) return { state: 'unknown' };
    if (payload.readUInt32BE(5) !== apiKeyId) return { state: 'unknown' };
    const used = await usedBy(this.db, [id]);
    if (used) return { state: 'used', by: String(used.used_by) };
    const expiresAt = new Date(payload.readUInt32BE(1) * 1000);
    if (expiresAt.getTime() <= this.clock().getTime()) return { state: 'expired' };
    return { state: 'fresh', expiresAt };
  }

  /** Records that a serial-request (its SHA-256) used the id, in the caller's transaction. */
  async consume(trx: Database, id: string, apiKeyId: number, requestHash: string, expiresAt: Date): Promise<void> {
    // Already there means the same request raced itself (a re-post): nothing to add.
    await trx('request_ids')
      .insert({ id, api_key_id: apiKeyId || null, expires_at: nowIso(expiresAt), used_at: nowIso(this.clock()), used_by: requestHash })
      .onConflict('id')
      .ignore();
  }

  /** Forgets used ids a day after they expired. */
  async prune(): Promise<number> {
    return this.db('request_ids').where('expires_at', '<', nowIso(new Date(this.clock().getTime() - 24 * 3600 * 1000))).delete();
  }
}
