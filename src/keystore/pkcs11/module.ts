import pkcs11js from 'pkcs11js';
import { KeyStoreError } from '../errors.js';
import { fromCkr } from './ckr.js';

/**
 * A PKCS#11 module is initialised once per process, however many keystores
 * use it: `C_Initialize` on the main thread before any signer thread starts,
 * `C_Finalize` when the last user lets go (finalising under another user
 * would pull its sessions away).
 */
export interface ModuleHandle {
  readonly p11: pkcs11js.PKCS11;
  readonly path: string;
  /** C_Finalize and C_Initialize again, so the module rescans its slots. */
  reinitialize(): void;
  release(): void;
}

interface Entry {
  p11: pkcs11js.PKCS11;
  users: number;
}

const modules = new Map<string, Entry>();

/**
 * With no arguments C_Initialize tells the module the application is single
 * threaded, and SoftHSM2 then takes no locks: concurrent sessions corrupt its
 * heap. CKF_OS_LOCKING_OK asks for the module's own locking.
 */
export const INITIALIZE_ARGS = { flags: pkcs11js.CKF_OS_LOCKING_OK };

function initialize(p11: pkcs11js.PKCS11, path: string): void {
  try {
    p11.C_Initialize(INITIALIZE_ARGS);
  } catch (e) {
    const code = (e as { code?: number }).code;
    if (code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) return;
    throw code === undefined ? new KeyStoreError('ERR_HSM_FAILED', `cannot initialise ${path}: ${(e as Error).message}`) : fromCkr(code, `initialise ${path}`);
  }
}

export function acquireModule(path: string): ModuleHandle {
  let entry = modules.get(path);
  if (!entry) {
    const p11 = new pkcs11js.PKCS11();
    try {
      p11.load(path);
    } catch (e) {
      throw new KeyStoreError('ERR_HSM_CONFIG', `cannot load the PKCS#11 module ${path}: ${(e as Error).message}`);
    }
    initialize(p11, path);
    entry = { p11, users: 0 };
    modules.set(path, entry);
  }
  entry.users++;
  const e = entry;
  let released = false;
  return {
    p11: e.p11,
    path,
    reinitialize() {
      try {
        e.p11.C_Finalize();
      } catch {
        // not initialised any more
      }
      initialize(e.p11, path);
    },
    release() {
      if (released) return;
      released = true;
      if (--e.users > 0) return;
      modules.delete(path);
      try {
        e.p11.C_Finalize();
      } catch {
        // already finalised
      }
    },
  };
}
