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
  /** C_Finalize and C_Initialize again, so the module rescans its slots. Only while no other keystore uses the module. */
  reinitialize(): void;
  /**
   * The same while other keystores use the module (other tokens): they are
   * paused first, their sessions closed, and resumed after. C_Finalize under
   * a thread that is signing crashes SoftHSM2, and session and object
   * handles are reused after C_Initialize. One re-initialisation at a time.
   */
  reinitializeShared(): Promise<void>;
  release(): void;
}

/** A keystore on a module, paused while another one re-initialises it. */
export interface ModuleUser {
  /** Lets the operations in flight finish, closes every session, and starts nothing new until `resume`. */
  pause(): Promise<void>;
  resume(): void;
}

interface Entry {
  p11: pkcs11js.PKCS11;
  users: number;
  readonly pausable: Set<ModuleUser>;
  /** The re-initialisation under way, if any: the next one waits for it. */
  turn: Promise<void>;
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

export function acquireModule(path: string, user?: ModuleUser): ModuleHandle {
  let entry = modules.get(path);
  if (!entry) {
    const p11 = new pkcs11js.PKCS11();
    try {
      p11.load(path);
    } catch (e) {
      throw new KeyStoreError('ERR_HSM_CONFIG', `cannot load the PKCS#11 module ${path}: ${(e as Error).message}`);
    }
    initialize(p11, path);
    entry = { p11, users: 0, pausable: new Set(), turn: Promise.resolve() };
    modules.set(path, entry);
  }
  entry.users++;
  if (user) entry.pausable.add(user);
  const e = entry;
  let released = false;
  const reinitialize = () => {
    try {
      e.p11.C_Finalize();
    } catch {
      // not initialised any more
    }
    initialize(e.p11, path);
  };
  return {
    p11: e.p11,
    path,
    reinitialize,
    reinitializeShared() {
      const run = e.turn.then(async () => {
        const others = [...e.pausable].filter((u) => u !== user);
        await Promise.all(others.map((u) => u.pause()));
        try {
          reinitialize();
        } finally {
          for (const u of others) u.resume();
        }
      });
      e.turn = run.catch(() => undefined);
      return run;
    },
    release() {
      if (released) return;
      released = true;
      if (user) e.pausable.delete(user);
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
