import { VaultError } from '../errors.js';

/** Why a key-custody operation (authorities, brands, their keys and chains) is refused. */
export type CustodyErrorCode =
  /** No local root authority of that id. */
  | 'ERR_AUTHORITY_UNKNOWN'
  /** A brand with that account id is already set up. */
  | 'ERR_BRAND_EXISTS'
  /** The brand has no signing key (of that label). */
  | 'ERR_BRAND_KEY_UNKNOWN'
  /** No key with that label in the HSM. */
  | 'ERR_HSM_KEY_MISSING'
  /** An account-key and the account or HSM key it should go with disagree. */
  | 'ERR_KEY_MISMATCH'
  /** Another type of assertion than the one expected. */
  | 'ERR_ASSERTION_UNEXPECTED'
  /** The assertion does not verify against the trusted roots and the chains known. */
  | 'ERR_ASSERTION_UNTRUSTED'
  /** A trusted root must be a self-signed account with its own account-key. */
  | 'ERR_ROOT_INVALID';

export class CustodyError extends VaultError {
  override readonly name = 'CustodyError';
  constructor(
    readonly code: CustodyErrorCode,
    message: string,
  ) {
    super(message);
  }
}
