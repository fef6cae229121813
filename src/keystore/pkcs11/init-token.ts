import pkcs11js from 'pkcs11js';
import { KeyStoreError } from '../errors.js';
import { fromCkr } from './ckr.js';
import { acquireModule } from './module.js';
import { listTokens } from './slots.js';

export interface InitTokenOptions {
  readonly modulePath: string;
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
}

export type InitTokenResult = { readonly created: boolean; readonly serial: string };

const ckr = (e: unknown, what: string): Error => {
  const code = (e as { code?: number }).code;
  return code === undefined ? (e as Error) : fromCkr(code, what);
};

/**
 * Creates a token with `label` in a free slot and sets its user PIN, through
 * PKCS#11 itself so no PIN ever appears on a command line. Idempotent: when a
 * token with that label exists and the user PIN opens it, nothing changes.
 */
export function initToken(options: InitTokenOptions): InitTokenResult {
  const module = acquireModule(options.modulePath);
  const { p11 } = module;
  try {
    const existing = listTokens(p11, { label: options.label });
    if (existing.length > 1) {
      throw new KeyStoreError('ERR_HSM_CONFIG', `${existing.length} tokens are labelled "${options.label}": remove the extra ones or choose tokens by serial`);
    }
    if (existing[0]) {
      // A set-up stopped between initialising the token and setting its user PIN: finish it.
      if ((p11.C_GetTokenInfo(existing[0].slot).flags & pkcs11js.CKF_USER_PIN_INITIALIZED) === 0) {
        setUserPin(p11, existing[0].slot, options);
        return { created: true, serial: existing[0].serial };
      }
      const session = p11.C_OpenSession(existing[0].slot, pkcs11js.CKF_SERIAL_SESSION);
      try {
        p11.C_Login(session, pkcs11js.CKU_USER, options.pin);
        p11.C_Logout(session);
      } catch (e) {
        if ((e as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw ckr(e, `log in to the existing token "${options.label}"`);
      } finally {
        p11.C_CloseSession(session);
      }
      return { created: false, serial: existing[0].serial };
    }
    const free = p11.C_GetSlotList(true).find((slot) => (p11.C_GetTokenInfo(slot).flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0);
    if (!free) throw new KeyStoreError('ERR_HSM_UNAVAILABLE', 'no free slot to create a token in');
    try {
      p11.C_InitToken(free, options.soPin, options.label.padEnd(32, ' '));
    } catch (e) {
      throw ckr(e, `initialise token "${options.label}"`);
    }
    // SoftHSM2 moves a new token to a new slot: find it again by label.
    module.reinitialize();
    const [created] = listTokens(p11, { label: options.label });
    if (!created) throw new KeyStoreError('ERR_HSM_FAILED', `token "${options.label}" was initialised but cannot be found`);
    setUserPin(p11, created.slot, options);
    return { created: true, serial: created.serial };
  } finally {
    module.release();
  }
}

function setUserPin(p11: pkcs11js.PKCS11, slot: Buffer, options: InitTokenOptions): void {
  const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    p11.C_Login(session, pkcs11js.CKU_SO, options.soPin);
    p11.C_InitPIN(session, options.pin);
    p11.C_Logout(session);
  } catch (e) {
    throw ckr(e, `set the user PIN of token "${options.label}"`);
  } finally {
    p11.C_CloseSession(session);
  }
}
