import { KeyStoreError, isKeyStoreError } from './errors.js';
import type { KeyStore, KeyStoreHealth } from './keystore.js';

/** A token that failed is left alone this long before it is tried again; doubles on each failed try. */
export const DOWN_BACKOFF_MS = 1000;
export const MAX_DOWN_BACKOFF_MS = 30_000;
/** A probe that does not answer in this time counts as failed. */
export const PROBE_TIMEOUT_MS = 5000;

export interface TokenState {
  /** The token's label (or serial), as its URI names it. */
  readonly label: string;
  readonly ok: boolean;
  /** Why not ok, in words an operator can act on. */
  readonly problem?: string;
  /** While down: when the token is tried again. */
  readonly retryAt?: Date;
}

export interface MemberTiming {
  readonly downBackoffMs?: number;
  readonly maxDownBackoffMs?: number;
  readonly probeTimeoutMs?: number;
  readonly onChange?: (state: TokenState) => void;
}

/**
 * Only "unavailable" takes a token out of rotation. "Busy" is transient too,
 * but it says the token works and is saturated: taking it out would pile its
 * load onto the others until they are busy as well.
 */
export function meansTokenDown(e: unknown): e is KeyStoreError {
  return isKeyStoreError(e) && e.code === 'ERR_HSM_UNAVAILABLE';
}

/**
 * One token of a set and whether it is in rotation. A token that fails is
 * marked down; calls for its keys then fail at once, without waiting on it,
 * until a probe in the background (its health check, after a doubling
 * backoff) finds it working again. A token that could not be opened at start
 * is opened by that probe.
 */
export class TokenMember {
  private current: KeyStore | undefined;
  private problem: string | undefined;
  private retryAt = 0;
  private backoff: number;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly token: string,
    private readonly opener: () => Promise<KeyStore>,
    private readonly timing: MemberTiming = {},
  ) {
    this.backoff = timing.downBackoffMs ?? DOWN_BACKOFF_MS;
  }

  /** Opens the token; a token that is only unavailable starts down and is opened later. */
  async start(): Promise<void> {
    try {
      this.current = await this.opener();
    } catch (e) {
      if (!meansTokenDown(e)) throw e;
      this.markDown(e.message);
    }
  }

  get up(): boolean {
    return this.problem === undefined && this.current !== undefined;
  }

  /** The keystore, or ERR_HSM_UNAVAILABLE at once while the token is down. */
  store(what: string): KeyStore {
    if (this.up) return this.current as KeyStore;
    const wait = Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000));
    throw new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot ${what}: token "${this.token}" is unavailable (${this.problem ?? 'not open'}); it is tried again in ${wait} s`);
  }

  /** Runs an operation on the token; an "unavailable" answer takes the token out of rotation. */
  async call<T>(what: string, fn: (store: KeyStore) => Promise<T>): Promise<T> {
    const store = this.store(what);
    try {
      return await fn(store);
    } catch (e) {
      if (meansTokenDown(e)) this.markDown(e.message);
      throw e;
    }
  }

  /** The token's own health, which also counts as a probe: it can put the token back, or take it out. */
  async health(): Promise<KeyStoreHealth | undefined> {
    if (!this.current) return undefined;
    try {
      const health = await this.ask(this.current);
      if (health.ok) this.markUp();
      else this.markDown(health.problem ?? 'not ready');
      return health;
    } catch (e) {
      this.markDown(e instanceof Error ? e.message : String(e));
      throw e;
    }
  }

  state(): TokenState {
    if (this.up) return { label: this.token, ok: true };
    return { label: this.token, ok: false, problem: this.problem ?? 'not open', retryAt: new Date(this.retryAt) };
  }

  /** The open keystore, for figures that need no HSM call (load) and for closing. */
  get opened(): KeyStore | undefined {
    return this.current;
  }

  markDown(problem: string): void {
    if (this.closed) return;
    const wasDown = this.problem !== undefined;
    this.problem = problem;
    // Failures reported while down (calls that were already in flight) do not push the next try further away.
    if (wasDown && this.timer) return;
    if (!wasDown) this.backoff = this.timing.downBackoffMs ?? DOWN_BACKOFF_MS;
    this.retryAt = Date.now() + this.backoff;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.probe(), this.backoff);
    this.timer.unref();
    this.backoff = Math.min(this.backoff * 2, this.timing.maxDownBackoffMs ?? MAX_DOWN_BACKOFF_MS);
    if (!wasDown) this.timing.onChange?.(this.state());
  }

  private markUp(): void {
    if (this.up || this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.problem = undefined;
    this.backoff = this.timing.downBackoffMs ?? DOWN_BACKOFF_MS;
    this.timing.onChange?.(this.state());
  }

  /** One try at a time: open the token if it never opened, else ask its health. */
  private probe(): Promise<void> {
    this.timer = undefined;
    this.probing ??= (async () => {
      try {
        if (!this.current) {
          const opened = await this.opener();
          if (this.closed) {
            await opened.close();
            return;
          }
          this.current = opened;
        }
        const health = await this.ask(this.current);
        if (health.ok) return this.markUp();
        this.markDown(health.problem ?? 'not ready');
      } catch (e) {
        this.markDown(e instanceof Error ? e.message : String(e));
      }
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async ask(store: KeyStore): Promise<KeyStoreHealth> {
    const ms = this.timing.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KeyStoreError('ERR_HSM_UNAVAILABLE', `token "${this.token}" did not answer a health check within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([store.health(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.probing;
    await this.current?.close();
  }
}
