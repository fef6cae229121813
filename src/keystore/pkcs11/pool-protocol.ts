/* The messages between the signer pool and its worker threads (signer-worker.js), and the pool's options. */
import { KeyStoreError } from '../errors.js';
import { fromCkr } from './ckr.js';

/** What a worker is started with: everything it needs to open its own session. */
export interface WorkerConfig {
  readonly modulePath: string;
  readonly token: { readonly label?: string; readonly serial?: string };
  readonly pin: string;
  readonly retries: number;
  readonly backoffMs: number;
}

export interface PoolOptions {
  readonly size: number;
  /** Callers allowed to wait for a signer; past it they get ERR_HSM_BUSY at once. */
  readonly maxQueue: number;
  readonly workerUrl: URL;
  readonly config: WorkerConfig;
  readonly onEvent?: (event: PoolEvent) => void;
  /**
   * Re-initialises the module (C_Finalize, C_Initialize) while no worker
   * runs. Many modules, SoftHSM2 among them, see a re-inserted or
   * re-initialised token only after that.
   */
  readonly reinitialize: () => Promise<void>;
  /** First wait before re-connecting after the HSM became unavailable; doubles up to `maxResetBackoffMs`. */
  readonly resetBackoffMs?: number;
  readonly maxResetBackoffMs?: number;
}

export type PoolEvent =
  | { readonly type: 'worker-replaced'; readonly index: number; readonly reason: string }
  | { readonly type: 'login-failed'; readonly error: KeyStoreError }
  | { readonly type: 'reconnecting'; readonly reason: string }
  | { readonly type: 'reconnected' }
  | { readonly type: 'reconnect-failed'; readonly error: Error; readonly retryInMs: number };

export type Reply =
  | { seq: number; ok: true; value: unknown }
  | { seq: number; ok: false; error: { kind: 'keystore'; code: KeyStoreError['code']; message: string } | { kind: 'pkcs11' | 'internal'; ckr?: number; message: string } };

/** A worker's refusal as the caller's error: its own code, a CKR's meaning, or a failure naming what was being done. */
export function replyError(e: Extract<Reply, { ok: false }>['error'], what: string): KeyStoreError {
  if (e.kind === 'keystore') return new KeyStoreError(e.code, `cannot ${what}: ${e.message}`);
  if (e.kind === 'pkcs11' && e.ckr !== undefined) return fromCkr(e.ckr, what);
  return new KeyStoreError('ERR_HSM_FAILED', `cannot ${what}: ${e.message}`);
}
