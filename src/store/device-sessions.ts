import { StoreRepository } from '../accounts/stores.js';
import type { Custody } from '../custody/custody.js';
import type { Database } from '../db/database.js';
import { ModelRepository } from '../catalog/models.js';
import { SerialRepository } from '../provisioning/serials.js';
import { StoreError } from './errors.js';
import { NonceRepository } from './nonces.js';
import { checkNotSuperseded, checkRecent, checkSameDevice, checkServed, checkSignatures, readSessionRequest, storeOf } from './session-request.js';
import { SessionRepository, type DeviceSession } from './sessions.js';

export interface DeviceSessionOptions {
  readonly sessionTtlMs: number;
  readonly nonceTtlMs: number;
  /** How far a device-session-request's timestamp may be from the vault's clock. */
  readonly clockSkewMs: number;
}

/** The session token in `Macaroon root="…"` (snapd adds `, discharge="…"` only for user macaroons). */
export function sessionToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\s*Macaroon\s+(?:.*?[\s,])?root="([^"]*)"/i.exec(header);
  return m?.[1] || undefined;
}

/**
 * Device sessions (STORE.md §2): a nonce, then a session for a
 * device-session-request that proves the device holds the key of a serial
 * this store trusts; every later request carries the session.
 */
export class DeviceSessions {
  readonly nonces: NonceRepository;
  readonly sessions: SessionRepository;
  /** Sessions recently looked up, so a busy device costs one query a minute; an ended session can live on here that long. */
  private readonly recent = new Map<string, { session: DeviceSession; until: number }>();

  constructor(
    private readonly db: Database,
    private readonly custody: Custody,
    private readonly options: DeviceSessionOptions,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.nonces = new NonceRepository(db, options.nonceTtlMs, clock);
    this.sessions = new SessionRepository(db, options.sessionTtlMs, clock);
  }

  nonce(): Promise<string> {
    return this.nonces.issue();
  }

  /** Checks a session request step by step; the nonce is spent and the session made in one transaction, the one it replaces ended. */
  async open(body: unknown, previousToken?: string): Promise<{ token: string; session: DeviceSession }> {
    const req = readSessionRequest(body);
    checkSameDevice(req);
    const { brandId, model: modelName } = req.model.view;
    // Signatures first: a caller who cannot sign learns nothing of which brands and models are served here.
    checkSignatures(req, await this.custody.trust());
    const [brand, model] = await Promise.all([this.custody.brands.byAccountId(brandId), new ModelRepository(this.db).find(brandId, modelName)]);
    checkServed(req, brand, model);
    checkNotSuperseded(req, model ? await new SerialRepository(this.db).bySerial(model.id, req.serial.view.serial) : undefined);
    checkRecent(req, this.clock(), this.options.clockSkewMs);
    const storeId = storeOf(req, await new StoreRepository(this.db).tree(), brand!);
    return this.db.transaction(async (trx) => {
      if (!(await this.nonces.consume(req.request.view.nonce, trx))) {
        throw new StoreError('ERR_NONCE_INVALID', 'the nonce was not handed out by this store, was used already or has expired: ask for a new one');
      }
      if (previousToken) {
        await this.sessions.end(previousToken, trx);
        this.recent.delete(previousToken);
      }
      return this.sessions.create({ brandId, model: modelName, serial: req.serial.view.serial, deviceKeyId: req.serial.view.deviceKeyId, storeId }, trx);
    });
  }

  /** The session a request carries; a missing, unknown or expired one is refused so that snapd makes a new one. */
  async authenticate(token: string): Promise<DeviceSession> {
    const now = this.clock().getTime();
    let hit = this.recent.get(token);
    if (!hit || hit.until < now) {
      const session = await this.sessions.find(token);
      if (!session) throw new StoreError('ERR_DEVICE_SESSION_INVALID', 'this device session is not known here: make a new one');
      await this.stillServed(token, session);
      if (this.recent.size > 100_000) this.recent.clear();
      // 45 to 75 s: sessions first read together (a fleet after a restart) do not all expire from here in the same second.
      hit = { session, until: now + 45_000 + Math.random() * 30_000 };
      this.recent.set(token, hit);
    }
    if (Date.parse(hit.session.expiresAt) <= now) {
      this.recent.delete(token);
      throw new StoreError('ERR_DEVICE_SESSION_INVALID', 'this device session has expired: make a new one');
    }
    return hit.session;
  }

  /**
   * A session lasts only while its device would still get one: its model
   * registered and enabled, its serial not reissued to another key. Checked
   * whenever the session is read from the database (at most once a minute
   * per device); a session that fails ends, and the device's next session
   * request is told why.
   */
  private async stillServed(token: string, session: DeviceSession): Promise<void> {
    const model = await new ModelRepository(this.db).find(session.brandId, session.model);
    const issued = model ? await new SerialRepository(this.db).bySerial(model.id, session.serial) : undefined;
    if (model?.enabled && (!issued || issued.deviceKeyId === session.deviceKeyId)) return;
    await this.sessions.end(token);
    throw new StoreError('ERR_DEVICE_SESSION_INVALID', 'this device session is no longer valid: make a new one');
  }

  async prune(): Promise<void> {
    await this.nonces.prune();
    await this.sessions.prune();
  }
}
