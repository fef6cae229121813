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
  | 'ERR_ROOT_INVALID'
  /** No key of that label, id or purpose is registered in the vault. */
  | 'ERR_SIGNING_KEY_UNKNOWN'
  /** Not a purpose a key can have. */
  | 'ERR_KEY_PURPOSE_INVALID'
  /** `--token` names no token of the vault's HSM configuration. */
  | 'ERR_HSM_TOKEN_UNKNOWN'
  /** Rotation, revocation or signing of a key that is not in use (pending, retired or revoked). */
  | 'ERR_KEY_NOT_ACTIVE'
  /** Another change to the same key ran at the same time. */
  | 'ERR_KEY_CONFLICT'
  /** An account-key imported for a key that is not awaiting one. */
  | 'ERR_KEY_NOT_PENDING'
  /** An account-key that registers another public key than the vault's key. */
  | 'ERR_ACCOUNT_KEY_OTHER_KEY'
  /** An account-key for another account than the key's brand. */
  | 'ERR_ACCOUNT_KEY_OTHER_BRAND'
  /** An account-key whose constraints do not allow what the key is for. */
  | 'ERR_ACCOUNT_KEY_CONSTRAINED'
  /** No key of the model's brand may sign now (revoked, retired with no successor): a fault the brand must fix. */
  | 'ERR_SIGNING_KEY_UNUSABLE'
  /** No ceremony of that id. */
  | 'ERR_CEREMONY_UNKNOWN'
  /** The ceremony's proposal expired before it had its approvals. */
  | 'ERR_CEREMONY_EXPIRED'
  /** The ceremony already ran (or failed): nothing more to approve. */
  | 'ERR_CEREMONY_CLOSED'
  /** A proposer approving their own ceremony. */
  | 'ERR_CEREMONY_SELF_APPROVAL'
  /** The same person approving twice. */
  | 'ERR_CEREMONY_ALREADY_APPROVED'
  /** Approving needs the security-officer role on the brand's store. */
  | 'ERR_CEREMONY_NOT_OFFICER'
  /** An action outside the ceremony table, or its parameters wrong. */
  | 'ERR_CEREMONY_ACTION_INVALID'
  /** A ceremony policy that could never be met or names unknown actions. */
  | 'ERR_CEREMONY_POLICY_INVALID'
  /** snapd's external key manager asked for a key the vault does not offer (unknown, not a brand key, or not in the HSM). */
  | 'ERR_KEYMGR_KEY_UNKNOWN'
  /** What snapd's external key manager was given to sign is not DigestInfo(SHA-512) followed by a 64-byte digest. */
  | 'ERR_KEYMGR_INPUT_INVALID'
  /** A signing mechanism or public key format the external key manager does not offer (its features list what it does). */
  | 'ERR_KEYMGR_UNSUPPORTED'
  /** The access token given to the external key manager signs no one in, or its person lacks the role to sign with the key. */
  | 'ERR_KEYMGR_FORBIDDEN';

export class CustodyError extends VaultError {
  override readonly name = 'CustodyError';
  constructor(
    readonly code: CustodyErrorCode,
    message: string,
  ) {
    super(message);
  }
}
