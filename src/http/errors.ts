import type { AccountsErrorCode } from '../accounts/errors.js';
import type { AssertionErrorCode } from '../assertions/index.js';
import type { CatalogErrorCode } from '../catalog/errors.js';
import type { CustodyErrorCode } from '../custody/errors.js';
import { isTransientDbError } from '../db/errors.js';
import { KeyStoreError, type KeyStoreErrorCode } from '../keystore/errors.js';
import type { ProvisioningErrorCode } from '../provisioning/errors.js';
import type { SetupErrorCode } from '../setup/errors.js';
import type { StoreErrorCode } from '../store/errors.js';
import type { SyncErrorCode } from '../sync/errors.js';
import { VaultError } from '../errors.js';

/** Refusals made by the HTTP layer itself. */
export type HttpErrorCode =
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_BODY_TIMEOUT'
  | 'ERR_BODY_INVALID'
  | 'ERR_NOT_FOUND'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_OVERLOADED'
  | 'ERR_SHUTTING_DOWN'
  | 'ERR_DATABASE_UNAVAILABLE'
  /** A listener could not start (port in use, no permission). */
  | 'ERR_LISTEN_FAILED'
  | 'ERR_INTERNAL';

export type ErrorCode = HttpErrorCode | ProvisioningErrorCode | KeyStoreErrorCode | AssertionErrorCode | AccountsErrorCode | CustodyErrorCode | CatalogErrorCode | StoreErrorCode | SetupErrorCode | SyncErrorCode;

/**
 * Every code the service can answer with, and its HTTP status: one table, so
 * a new code does not compile until it has one. snapd treats 400–500 as
 * fatal (backing off up to a day) and retries quickly only above 500, so
 * everything that may pass by itself is 503, never 4xx or 500.
 */
export const STATUS: Readonly<Record<ErrorCode, number>> = {
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_BODY_TOO_LARGE: 413,
  ERR_BODY_TIMEOUT: 408,
  ERR_BODY_INVALID: 400,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_OVERLOADED: 503,
  ERR_SHUTTING_DOWN: 503,
  ERR_DATABASE_UNAVAILABLE: 503,
  ERR_LISTEN_FAILED: 500,
  ERR_INTERNAL: 500,

  ERR_API_KEY_INVALID: 401,
  ERR_API_KEY_MODEL: 403,
  ERR_REQUEST_ID_UNKNOWN: 400,
  ERR_REQUEST_ID_EXPIRED: 400,
  ERR_REQUEST_ID_USED: 400,
  ERR_SERIAL_REQUEST_INVALID: 400,
  ERR_MODEL_UNKNOWN: 404,
  ERR_MODEL_DISABLED: 403,
  ERR_MODEL_MISMATCH: 400,
  ERR_SERIAL_MISSING: 400,
  ERR_SERIAL_INVALID: 400,
  ERR_SERIAL_CONFLICT: 409,
  ERR_STATION_UNKNOWN: 404,
  ERR_STATION_EXISTS: 409,
  ERR_STATION_INVALID: 400,
  ERR_STATION_DISABLED: 403,
  ERR_STATION_NOT_OPEN: 403,
  ERR_STATION_CLOSED: 403,
  ERR_QUOTA_EXCEEDED: 429,
  ERR_SERIAL_PATTERN: 403,
  ERR_SERIAL_NOT_ALLOWED: 403,
  ERR_ALLOWLIST_INVALID: 400,
  ERR_HARDWARE_IDENTITY_REQUIRED: 401,
  ERR_HARDWARE_IDENTITY_UNKNOWN: 403,
  ERR_HARDWARE_IDENTITY_SIGNATURE: 403,
  ERR_HARDWARE_IDENTITY_USED: 409,
  ERR_HARDWARE_IDENTITY_INVALID: 400,
  ERR_HARDWARE_IDENTITY_ISSUER: 400,
  ERR_REMODEL_NOT_ALLOWED: 403,
  ERR_REMODEL_SERIAL_INVALID: 400,
  ERR_REMODEL_DEVICE_KEY: 403,
  ERR_REMODEL_RULE_UNKNOWN: 404,
  ERR_SYSTEM_USER_INVALID: 400,
  ERR_SYSTEM_USER_UNKNOWN: 404,
  ERR_QUEUE_FULL: 503,
  ERR_TEMPORARILY_UNAVAILABLE: 503,

  ERR_HSM_LOGIN_FAILED: 500,
  ERR_HSM_PIN_LOCKED: 500,
  ERR_HSM_UNAVAILABLE: 503,
  ERR_HSM_BUSY: 503,
  ERR_KEY_NOT_FOUND: 500,
  ERR_KEY_EXISTS: 409,
  ERR_HSM_NOT_PERMITTED: 500,
  ERR_HSM_CONFIG: 500,
  ERR_HSM_FAILED: 500,

  ERR_UNAUTHENTICATED: 401,
  ERR_FORBIDDEN: 403,
  ERR_CSRF: 403,
  ERR_INVALID_INPUT: 400,
  ERR_BRAND_UNKNOWN: 404,
  ERR_STORE_UNKNOWN: 404,
  ERR_STORE_EXISTS: 409,
  ERR_PERSON_UNKNOWN: 404,
  ERR_PERSON_EXISTS: 409,
  ERR_GRANT_EXISTS: 409,
  ERR_GRANT_UNKNOWN: 404,
  ERR_LAST_ADMIN: 409,
  ERR_TOKEN_UNKNOWN: 404,
  ERR_TOKEN_SCOPE: 403,
  ERR_SSO_NOT_CONFIGURED: 404,
  ERR_SSO_FAILED: 400,
  ERR_SSO_UNAVAILABLE: 503,
  ERR_EMAIL_NOT_VERIFIED: 403,

  ERR_ASSERTION_SYNTAX: 400,
  ERR_ASSERTION_TOO_LARGE: 413,
  ERR_ASSERTION_ENCODING: 400,
  ERR_BODY_LENGTH_MISMATCH: 400,
  ERR_HEADER_MISSING: 400,
  ERR_HEADER_INVALID: 400,
  ERR_HEADER_FORBIDDEN: 400,
  ERR_HEADER_MISMATCH: 400,
  ERR_TYPE_UNKNOWN: 400,
  ERR_SIGNATURE_MALFORMED: 400,
  ERR_SIGNATURE_UNSUPPORTED: 400,
  ERR_SIGNATURE_INVALID: 400,
  ERR_PUBLIC_KEY_INVALID: 400,
  ERR_KEY_UNKNOWN: 400,
  ERR_KEY_NOT_VALID: 400,
  ERR_AUTHORITY_NOT_ALLOWED: 400,
  ERR_PREREQUISITE_MISSING: 400,
  ERR_REVISION_CONFLICT: 409,
  ERR_SIGNER_FAILED: 500,

  ERR_AUTHORITY_UNKNOWN: 404,
  ERR_BRAND_EXISTS: 409,
  ERR_BRAND_KEY_UNKNOWN: 404,
  ERR_HSM_KEY_MISSING: 404,
  ERR_KEY_MISMATCH: 400,
  ERR_ASSERTION_UNEXPECTED: 400,
  ERR_ASSERTION_UNTRUSTED: 400,

  ERR_ROOT_INVALID: 400,
  ERR_SIGNING_KEY_UNKNOWN: 404,
  ERR_KEY_PURPOSE_INVALID: 400,
  ERR_HSM_TOKEN_UNKNOWN: 400,
  ERR_KEY_NOT_ACTIVE: 409,
  ERR_KEY_NOT_PENDING: 409,
  ERR_KEY_CONFLICT: 409,
  ERR_ACCOUNT_KEY_OTHER_KEY: 400,
  ERR_ACCOUNT_KEY_OTHER_BRAND: 400,
  ERR_ACCOUNT_KEY_CONSTRAINED: 400,
  ERR_SIGNING_KEY_UNUSABLE: 503,
  ERR_CEREMONY_UNKNOWN: 404,
  ERR_CEREMONY_EXPIRED: 409,
  ERR_CEREMONY_CLOSED: 409,
  ERR_CEREMONY_SELF_APPROVAL: 403,
  ERR_CEREMONY_ALREADY_APPROVED: 409,
  ERR_CEREMONY_NOT_OFFICER: 403,
  ERR_CEREMONY_ACTION_INVALID: 400,
  ERR_CEREMONY_POLICY_INVALID: 400,
  ERR_KEYMGR_KEY_UNKNOWN: 404,
  ERR_KEYMGR_INPUT_INVALID: 400,
  ERR_KEYMGR_UNSUPPORTED: 400,
  ERR_KEYMGR_FORBIDDEN: 403,
  ERR_MODEL_SNAP: 400,
  ERR_SNAP_NAME_INVALID: 400,
  ERR_SNAP_EXISTS: 409,
  ERR_SNAP_UNKNOWN: 404,
  ERR_SNAP_OWNER: 403,
  ERR_SNAP_NOT_COLLABORATOR: 403,
  ERR_SNAP_NOT_SQUASHFS: 400,
  ERR_SNAP_TRUNCATED: 400,
  ERR_SNAP_TOO_LARGE: 413,
  ERR_SNAP_DIGEST_MISMATCH: 503,
  ERR_SNAP_YAML_INVALID: 400,
  ERR_SNAP_YAML_MISMATCH: 400,
  ERR_SNAP_VERSION_INVALID: 400,
  ERR_UPLOAD_UNKNOWN: 404,
  ERR_REVISION_UNKNOWN: 404,
  ERR_REVISION_NOT_APPROVED: 409,
  ERR_REVIEW_NOT_PENDING: 409,
  ERR_REVIEW_SELF: 403,
  ERR_CHANNEL_INVALID: 400,
  ERR_CHANNEL_GRADE: 400,
  ERR_SIGNING_REFUSED: 409,
  ERR_MODEL_INVALID: 400,
  ERR_MODEL_BRAND_UNKNOWN: 404,
  ERR_MODEL_UNTRUSTED: 400,
  ERR_SERIAL_TEMPLATE_INVALID: 400,

  ERR_SESSION_REQUEST_INVALID: 400,
  ERR_NONCE_INVALID: 401,
  ERR_DEVICE_UNTRUSTED: 401,
  ERR_DEVICE_SESSION_INVALID: 401,
  ERR_STORE_SNAP_UNKNOWN: 404,
  ERR_ASSERTION_NOT_FOUND: 404,
  ERR_RANGE_NOT_SATISFIABLE: 416,
  ERR_ACTION_INVALID: 400,

  ERR_SOFTHSM_MISSING: 500,
  ERR_INSTALL_INCOMPLETE: 500,
  ERR_DEMO_INCOMPLETE: 500,
  ERR_ENROLMENT_TOKEN_INVALID: 401,
  ERR_ENROLMENT_NOT_EMPTY: 409,
  ERR_ENROLMENT_FAILED: 500,
  ERR_APPLIANCE_UNKNOWN: 404,
  ERR_APPLIANCE_EXISTS: 409,
  ERR_APPLIANCE_DISABLED: 403,
  ERR_APPLIANCE_AUTH: 401,
  ERR_SYNC_NONCE_INVALID: 401,
  ERR_SYNC_CURSOR_AHEAD: 409,
  ERR_SYNC_OUT_OF_ORDER: 409,
  ERR_SYNC_BATCH_INVALID: 400,
  ERR_SYNC_LEASE_INVALID: 400,
  ERR_SYNC_LEASE_EXHAUSTED: 503,
  ERR_REPLICATED_READ_ONLY: 409,
  ERR_SYNC_ROLE: 409,
  ERR_UPSTREAM_UNAVAILABLE: 503,
};

export class HttpError extends VaultError {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    /** Each problem found, when there are several (invalid fields). */
    readonly details?: ReadonlyArray<{ code: string; message: string; field?: string }>,
  ) {
    super(message);
  }
}

/** What a client is told of a fault on our side; the cause goes to the log only. */
const INTERNAL_MESSAGE = 'the vault could not complete the request; the operator has the details';
const HSM_AWAY_MESSAGE = 'the signing service is temporarily unavailable; try again shortly';

/**
 * What a client may see: the code and message of refusals, and of faults
 * that may pass when the sentence is our own. A keystore error's message
 * names keys, tokens and PKCS#11 return codes: never a client's business,
 * so its 503s get a fixed sentence and its 500s the generic one.
 */
export function describeError(e: unknown): { status: number; code: ErrorCode; message: string; expose: boolean } {
  if (e instanceof VaultError) {
    const code = e.code as ErrorCode;
    const status = STATUS[code] ?? 500;
    if (status < 500) return { status, code, message: e.message, expose: true };
    if (status === 503) return { status, code, message: e instanceof KeyStoreError ? HSM_AWAY_MESSAGE : e.message, expose: false };
    return { status, code, message: INTERNAL_MESSAGE, expose: false };
  }
  if (isTransientDbError(e)) {
    return { status: 503, code: 'ERR_DATABASE_UNAVAILABLE', message: 'the vault database is temporarily unavailable; try again shortly', expose: false };
  }
  return { status: 500, code: 'ERR_INTERNAL', message: INTERNAL_MESSAGE, expose: false };
}
