import { VaultError } from '../errors.js';

/** Why an admin request is refused. */
export type AccountsErrorCode =
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_FORBIDDEN'
  | 'ERR_CSRF'
  | 'ERR_INVALID_INPUT'
  | 'ERR_BRAND_UNKNOWN'
  | 'ERR_STORE_UNKNOWN'
  | 'ERR_STORE_EXISTS'
  | 'ERR_PERSON_UNKNOWN'
  | 'ERR_PERSON_EXISTS'
  | 'ERR_GRANT_EXISTS'
  | 'ERR_GRANT_UNKNOWN'
  | 'ERR_LAST_ADMIN'
  | 'ERR_TOKEN_UNKNOWN'
  | 'ERR_TOKEN_SCOPE'
  | 'ERR_SSO_NOT_CONFIGURED'
  | 'ERR_SSO_FAILED'
  | 'ERR_SSO_UNAVAILABLE'
  | 'ERR_EMAIL_NOT_VERIFIED';

export class AccountsError extends VaultError {
  override readonly name = 'AccountsError';
  constructor(
    readonly code: AccountsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
