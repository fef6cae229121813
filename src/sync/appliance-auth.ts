import { createHash, randomBytes } from 'node:crypto';
import { PublicKey, sha512DigestInfo } from '../assertions/index.js';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { hashSecret } from '../db/hashed-secrets.js';
import { SyncError } from './errors.js';
import type { ApplianceContext } from './upstream.js';

/** What an appliance signs to open a session: a fixed context line, so the signature means nothing anywhere else. */
export const challengeText = (nonce: string): string => `serial-vault-sync\n${nonce}`;

/** The SHA-512 digest the appliance's HSM signs (KeyStore.signDigest) for `nonce`. */
export const challengeDigest = (nonce: string): Buffer => createHash('sha512').update(challengeText(nonce), 'utf8').digest();

/** Whether `signature` is the identity key's RSA PKCS#1 v1.5 SHA-512 signature of the challenge for `nonce`. */
export function verifyChallenge(publicKey: string, nonce: string, signature: Buffer): boolean {
  let key: PublicKey;
  try {
    key = PublicKey.decode(publicKey);
  } catch {
    return false;
  }
  return key.verifyDigestInfo(sha512DigestInfo(challengeDigest(nonce)), signature);
}

/** The value of `Authorization: Appliance <token>`, or undefined. */
export function applianceToken(header: string | undefined): string | undefined {
  const m = /^\s*Appliance\s+([A-Za-z0-9_-]{20,200})\s*$/.exec(header ?? '');
  return m?.[1];
}

export interface ApplianceAuthOptions {
  /** How long a sync token lasts (config.sync.tokenMinutes). */
  readonly tokenMinutes: number;
  readonly nonceTtlMs?: number;
  readonly clock?: () => Date;
}

const NONCE_TTL_MS = 5 * 60_000;
const AUTH_FAILED = 'the appliance could not be authenticated: check its name and identity key, and ask for a new nonce';

/**
 * How central knows an appliance: it hands out a nonce, the appliance signs
 * it with its HSM identity key and gets a short-lived sync token, which
 * every later call carries. Nonces and tokens are in the database, so any
 * replica honours what another issued; the appliance row is read on every
 * call, so a disabled appliance is refused at once.
 */
export class ApplianceAuth {
  private readonly clock: () => Date;

  constructor(
    private readonly db: Database,
    private readonly options: ApplianceAuthOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** A random nonce, good for one session within its lifetime. Not a secret: it is signed, not hidden. */
  async nonce(): Promise<string> {
    const nonce = randomBytes(24).toString('base64url');
    await this.db('sync_nonces').insert({ nonce, expires_at: nowIso(new Date(this.clock().getTime() + (this.options.nonceTtlMs ?? NONCE_TTL_MS))), used_at: null });
    return nonce;
  }

  /** Checks the signed challenge, spends the nonce and issues a token, in one transaction. */
  async open(body: unknown): Promise<{ token: string; expiresAt: string }> {
    const req = readSessionBody(body);
    const appliance = await this.db('appliances').where({ name: req.appliance }).first();
    const publicKey = appliance?.identity_public_key as string | null | undefined;
    // The signature first: a caller who cannot sign learns nothing of which appliances exist or their state.
    if (!publicKey || !verifyChallenge(publicKey, req.nonce, req.signature)) throw new SyncError('ERR_APPLIANCE_AUTH', AUTH_FAILED);
    if (appliance.state !== 'active') throw disabled(req.appliance);
    const now = this.clock();
    const token = `svs_${randomBytes(32).toString('base64url')}`;
    const expiresAt = nowIso(new Date(now.getTime() + this.options.tokenMinutes * 60_000));
    await this.db.transaction(async (trx) => {
      const spent = await trx('sync_nonces').where({ nonce: req.nonce }).whereNull('used_at').andWhere('expires_at', '>', nowIso(now)).update({ used_at: nowIso(now) });
      if (Number(spent) !== 1) throw new SyncError('ERR_SYNC_NONCE_INVALID', 'the nonce was not handed out by central, was used already or has expired: ask for a new one');
      await trx('sync_tokens').insert({ token_hash: hashSecret(token), appliance_id: Number(appliance.id), created_at: nowIso(now), expires_at: expiresAt });
    });
    return { token, expiresAt };
  }

  /** The appliance a sync token belongs to, read afresh on every call. */
  async authenticate(token: string): Promise<ApplianceContext> {
    const row = (await this.db('sync_tokens as t')
      .join('appliances as a', 'a.id', 't.appliance_id')
      .join('brands as b', 'b.id', 'a.brand_id')
      .where('t.token_hash', hashSecret(token))
      .andWhere('t.expires_at', '>', nowIso(this.clock()))
      .first('a.id', 'a.name', 'a.store_id', 'a.brand_id', 'a.state', 'b.account_id')) as Record<string, unknown> | undefined;
    if (!row) throw new SyncError('ERR_APPLIANCE_AUTH', 'the sync token is unknown or has expired: sign a new challenge (POST /sync/v1/sessions)');
    if (row['state'] !== 'active') throw disabled(String(row['name']));
    return { id: Number(row['id']), name: String(row['name']), storeId: String(row['store_id']), brandId: Number(row['brand_id']), brandAccountId: String(row['account_id']) };
  }

  /**
   * Refuses an appliance disabled since its token was checked: a long-poll
   * begun before `appliance disable` must not answer with later changes.
   */
  async ensureActive(appliance: ApplianceContext): Promise<void> {
    const row = (await this.db('appliances').where('id', appliance.id).first('state')) as { state?: string } | undefined;
    if (row?.state !== 'active') throw disabled(appliance.name);
  }

  /** Forgets nonces and tokens an hour past their expiry. */
  async prune(): Promise<number> {
    const before = nowIso(new Date(this.clock().getTime() - 3600_000));
    const nonces = Number(await this.db('sync_nonces').where('expires_at', '<', before).delete());
    return nonces + Number(await this.db('sync_tokens').where('expires_at', '<', before).delete());
  }
}

/** The one refusal of a disabled appliance, at sign-in, on every call, and after a long-poll. */
function disabled(name: string): SyncError {
  return new SyncError('ERR_APPLIANCE_DISABLED', `appliance "${name}" is disabled at central: an administrator enables it with serial-vault appliance enable ${name}`);
}

function readSessionBody(body: unknown): { appliance: string; nonce: string; signature: Buffer } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { appliance, nonce, signature } = b;
  if (typeof appliance !== 'string' || appliance.length === 0 || appliance.length > 64 || typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 64 || typeof signature !== 'string' || signature.length > 4096 || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) {
    throw new SyncError('ERR_APPLIANCE_AUTH', 'a session request is {"appliance": NAME, "nonce": NONCE, "signature": BASE64}: the signature of "serial-vault-sync\\n" and the nonce by the identity key');
  }
  return { appliance, nonce, signature: Buffer.from(signature, 'base64') };
}
