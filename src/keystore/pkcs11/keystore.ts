import { availableParallelism } from 'node:os';
import { PublicKey } from '../../assertions/index.js';
import { KeyStoreError, isKeyStoreError } from '../errors.js';
import { checkLabel, describeRef, idForLabel, parseKeyRef, type KeyRef } from '../key-ref.js';
import { digestInfo, type KeyInfo, type KeyStore, type KeyStoreHealth } from '../keystore.js';
import { readPin, type PinPrompt } from '../pin.js';
import { parsePkcs11Uri } from '../pkcs11-uri.js';
import { privateKeyTemplate, publicKeyTemplate } from '../policy.js';
import { acquireModule, type ModuleHandle } from './module.js';
import { findSoftHsmModule } from './module-path.js';
import { SignerPool, type PoolEvent } from './pool.js';
import { TokenError, findToken } from './slots.js';

export interface Pkcs11KeyStoreOptions {
  /** The token: `pkcs11:token=LABEL[;serial=S]?module-path=/path/module.so&pin-source=file:/path`. */
  readonly uri: string;
  /** Signer threads, each with its own session. Default: the machine's cores, between 2 and 8. */
  readonly signers?: number;
  /** Requests allowed to wait for a signer before ERR_HSM_BUSY. Default: 16 per signer. */
  readonly maxQueue?: number;
  /** How long a signature may take before the signer is reset and the caller told ERR_HSM_UNAVAILABLE. */
  readonly signTimeoutMs?: number;
  /** Key generation on a slow HSM can take minutes. */
  readonly generateTimeoutMs?: number;
  /** Session re-opens after token or session loss, per operation, with doubling backoff. */
  readonly reopenRetries?: number;
  readonly reopenBackoffMs?: number;
  readonly allowDestroy?: boolean;
  readonly prompt?: PinPrompt;
  readonly onEvent?: (event: PoolEvent) => void;
}

export const DEFAULT_SIGNERS = Math.min(8, Math.max(2, availableParallelism()));

interface RawKey {
  readonly label: string;
  readonly id: Uint8Array;
  readonly modulus: Uint8Array;
  readonly exponent: Uint8Array;
}

const WORKER_URL = new URL('./signer-worker.js', import.meta.url);

/**
 * Keys in a PKCS#11 token. `C_Initialize` runs once, here, on the main
 * thread, before any signer thread starts (concurrent initialisation crashes
 * some modules); the signer threads each open their own session.
 */
export class Pkcs11KeyStore implements KeyStore {
  private closed = false;
  private readonly keyCache = new Map<string, KeyInfo>();

  private constructor(
    private readonly moduleHandle: ModuleHandle,
    private readonly token: { readonly label?: string; readonly serial?: string },
    private readonly pool: SignerPool,
    private readonly options: Pkcs11KeyStoreOptions,
  ) {}

  static async open(options: Pkcs11KeyStoreOptions): Promise<Pkcs11KeyStore> {
    const uri = parsePkcs11Uri(options.uri);
    if (uri.token === undefined && uri.serial === undefined) {
      throw new KeyStoreError('ERR_HSM_CONFIG', 'the HSM URI must name the token by "token=" (label) or "serial=": slots are never used, they move');
    }
    const modulePath = uri.modulePath ?? findSoftHsmModule();
    if (!modulePath) {
      throw new KeyStoreError('ERR_HSM_CONFIG', 'no PKCS#11 module: add "module-path=" to the HSM URI, or install SoftHSM2 (scripts/setup-system.sh)');
    }
    const token = { ...(uri.token !== undefined ? { label: uri.token } : {}), ...(uri.serial !== undefined ? { serial: uri.serial } : {}) };
    const pin = await readPin(uri.pinSource, options.prompt);

    const signers = options.signers ?? DEFAULT_SIGNERS;
    if (!Number.isInteger(signers) || signers < 1 || signers > 64) throw new KeyStoreError('ERR_HSM_CONFIG', `signers must be between 1 and 64, not ${signers}`);
    // Other keystores on the module (other tokens) pause this one while they re-initialise it.
    const user = { pool: undefined as SignerPool | undefined };
    const module = acquireModule(modulePath, { pause: async () => user.pool?.pause(), resume: () => user.pool?.resume() });
    const pool = new SignerPool({
      reinitialize: () => module.reinitializeShared(),
      size: signers,
      maxQueue: options.maxQueue ?? 16 * signers,
      workerUrl: WORKER_URL,
      config: { modulePath, token, pin, retries: options.reopenRetries ?? 3, backoffMs: options.reopenBackoffMs ?? 100 },
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    user.pool = pool;
    const store = new Pkcs11KeyStore(module, token, pool, options);
    try {
      await pool.start();
    } catch (e) {
      await pool.close(0);
      store.finalize();
      throw e;
    }
    return store;
  }

  private info(raw: RawKey): KeyInfo {
    const publicKey = PublicKey.fromModulus(raw.modulus, raw.exponent);
    return { label: raw.label, id: Buffer.from(raw.id).toString('hex'), publicKey, keyId: publicKey.id, bits: publicKey.bits };
  }

  private check(): void {
    if (this.closed) throw new KeyStoreError('ERR_HSM_UNAVAILABLE', 'the keystore is closed');
  }

  async generate(label: string): Promise<KeyInfo> {
    this.check();
    checkLabel(label);
    const id = idForLabel(label);
    const raw = await this.pool.run<RawKey>(
      'generate',
      { label, id, publicTemplate: publicKeyTemplate({ label, id }), privateTemplate: privateKeyTemplate({ label, id }) },
      `generate key "${label}"`,
      this.options.generateTimeoutMs ?? 300_000,
    );
    return this.info(raw);
  }

  async find(ref: string): Promise<KeyInfo | undefined> {
    this.check();
    const parsed = parseKeyRef(ref);
    const cached = this.keyCache.get(ref);
    if (cached) return cached;
    const raw = await this.pool.run<RawKey | null>('find', { ref: parsed }, `find key ${describeRef(parsed)}`, this.options.signTimeoutMs ?? 10_000);
    if (!raw) return undefined;
    const info = this.info(raw);
    this.keyCache.set(ref, info);
    return info;
  }

  async list(): Promise<KeyInfo[]> {
    this.check();
    const raws = await this.pool.run<RawKey[]>('list', {}, 'list keys', this.options.signTimeoutMs ?? 10_000);
    return raws.map((r) => this.info(r)).sort((a, b) => a.label.localeCompare(b.label));
  }

  async signDigest(ref: string, digest: Uint8Array): Promise<Uint8Array> {
    this.check();
    const parsed: KeyRef = parseKeyRef(ref);
    const key = await this.find(ref);
    if (!key) throw new KeyStoreError('ERR_KEY_NOT_FOUND', `cannot sign with key ${describeRef(parsed)}: no such key on the token`);
    try {
      return await this.pool.run<Uint8Array>(
        'sign',
        { ref: parsed, data: digestInfo(digest), size: key.publicKey.modulusBytes },
        `sign with key ${describeRef(parsed)}`,
        this.options.signTimeoutMs ?? 10_000,
      );
    } catch (e) {
      // A key that went away (token re-initialised, key destroyed elsewhere) must be looked up again.
      if (isKeyStoreError(e) && (e.code === 'ERR_KEY_NOT_FOUND' || e.code === 'ERR_HSM_UNAVAILABLE')) this.keyCache.delete(ref);
      throw e;
    }
  }

  async destroy(ref: string): Promise<void> {
    this.check();
    const parsed = parseKeyRef(ref);
    if (!this.options.allowDestroy) {
      throw new KeyStoreError('ERR_HSM_NOT_PERMITTED', `cannot destroy key ${describeRef(parsed)}: destroying keys is not allowed by the keystore policy`);
    }
    this.keyCache.clear();
    await this.pool.run('destroy', { ref: parsed }, `destroy key ${describeRef(parsed)}`, this.options.signTimeoutMs ?? 10_000);
  }

  async health(): Promise<KeyStoreHealth> {
    const base = { backend: 'pkcs11' as const, moduleLoaded: !this.closed, signers: this.pool.size, busy: this.pool.busy, queued: this.pool.queued };
    if (this.closed) return { ...base, ok: false, tokenPresent: false, loggedIn: false, problem: 'the keystore is closed' };
    let token;
    try {
      token = findToken(this.moduleHandle.p11, this.token);
    } catch (e) {
      const problem = e instanceof TokenError ? e.message : e instanceof Error ? e.message : String(e);
      // The module may only see a re-inserted token after re-initialising.
      this.pool.reconnect(problem);
      return { ...base, ok: false, tokenPresent: false, loggedIn: false, problem };
    }
    const tokenInfo = { label: token.label, serial: token.serial, manufacturer: token.manufacturer, model: token.model };
    if (this.pool.down) {
      this.pool.reconnect('health check');
      return { ...base, ok: false, tokenPresent: true, loggedIn: false, token: tokenInfo, problem: 'reconnecting to the HSM' };
    }
    const loginError = this.pool.loginError;
    if (loginError) return { ...base, ok: false, tokenPresent: true, loggedIn: false, token: tokenInfo, problem: loginError.message };
    try {
      await this.pool.run('ping', {}, 'check the session', 2000);
      return { ...base, ok: true, tokenPresent: true, loggedIn: true, token: tokenInfo };
    } catch (e) {
      if (isKeyStoreError(e) && e.code === 'ERR_HSM_BUSY') return { ...base, ok: true, tokenPresent: true, loggedIn: true, token: tokenInfo };
      return { ...base, ok: false, tokenPresent: true, loggedIn: false, token: tokenInfo, problem: (e as Error).message };
    }
  }

  load(): { signers: number; busy: number; queued: number } {
    return { signers: this.pool.size, busy: this.pool.busy, queued: this.pool.queued };
  }

  /** Resolves once a reconnection under way has finished. */
  async settled(): Promise<void> {
    await this.pool.settled();
  }

  /** The module in use, for status output. */
  get module(): string {
    return this.moduleHandle.path;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
    this.finalize();
  }

  private finalize(): void {
    this.moduleHandle.release();
  }
}
