import { VaultError } from '../errors.js';

/** Stable codes for everything the keystore refuses or fails at. */
export type KeyStoreErrorCode =
  /** The PIN was refused. Never retried automatically: HSMs count failures. */
  | 'ERR_HSM_LOGIN_FAILED'
  /** The PIN is locked or expired: an officer must reset it on the HSM. */
  | 'ERR_HSM_PIN_LOCKED'
  /** The module, token or session is not usable right now (removed, re-initialised, timed out). Transient. */
  | 'ERR_HSM_UNAVAILABLE'
  /** Every signer is busy and the wait queue is full. Transient: try again shortly. */
  | 'ERR_HSM_BUSY'
  /** No key with that reference on the token. */
  | 'ERR_KEY_NOT_FOUND'
  /** A key with that label or id already exists. */
  | 'ERR_KEY_EXISTS'
  /** The token or the key policy does not allow the operation. */
  | 'ERR_HSM_NOT_PERMITTED'
  /** The HSM configuration is wrong: URI, module path, PIN source, ambiguous token. */
  | 'ERR_HSM_CONFIG'
  /** Any other PKCS#11 failure; the CKR name is in the message. */
  | 'ERR_HSM_FAILED';

/** Transient codes: a device should be told to come back later (HTTP 503), not refused. */
export const TRANSIENT_KEYSTORE_ERRORS: ReadonlySet<KeyStoreErrorCode> = new Set(['ERR_HSM_UNAVAILABLE', 'ERR_HSM_BUSY']);

export class KeyStoreError extends VaultError {
  override readonly name = 'KeyStoreError';
  constructor(
    readonly code: KeyStoreErrorCode,
    message: string,
    /** The PKCS#11 return value name (`CKR_…`), when the error came from the module. */
    readonly ckr?: string,
  ) {
    super(message);
  }
}

export function isKeyStoreError(e: unknown): e is KeyStoreError {
  return e instanceof KeyStoreError;
}
