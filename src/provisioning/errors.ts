import { VaultError } from '../errors.js';

/** Why a device (or a factory station) is refused, or asked to come back later. */
export type ProvisioningErrorCode =
  | 'ERR_API_KEY_INVALID'
  | 'ERR_API_KEY_MODEL'
  | 'ERR_REQUEST_ID_UNKNOWN'
  | 'ERR_REQUEST_ID_EXPIRED'
  | 'ERR_REQUEST_ID_USED'
  | 'ERR_SERIAL_REQUEST_INVALID'
  | 'ERR_MODEL_UNKNOWN'
  | 'ERR_MODEL_DISABLED'
  | 'ERR_MODEL_MISMATCH'
  | 'ERR_SERIAL_MISSING'
  /** A proposed serial the vault cannot store (too long). */
  | 'ERR_SERIAL_INVALID'
  | 'ERR_SERIAL_CONFLICT'
  /** Stations (factory lines): who may provision what, when, and how much. */
  | 'ERR_STATION_UNKNOWN'
  | 'ERR_STATION_EXISTS'
  | 'ERR_STATION_INVALID'
  | 'ERR_STATION_DISABLED'
  | 'ERR_STATION_NOT_OPEN'
  | 'ERR_STATION_CLOSED'
  | 'ERR_QUOTA_EXCEEDED'
  | 'ERR_SERIAL_PATTERN'
  | 'ERR_SERIAL_NOT_ALLOWED'
  /** A bad line in an allow-list file: nothing of the file is applied. */
  | 'ERR_ALLOWLIST_INVALID'
  /** Hardware-identity onboarding. */
  | 'ERR_HARDWARE_IDENTITY_REQUIRED'
  | 'ERR_HARDWARE_IDENTITY_UNKNOWN'
  | 'ERR_HARDWARE_IDENTITY_SIGNATURE'
  | 'ERR_HARDWARE_IDENTITY_USED'
  | 'ERR_HARDWARE_IDENTITY_INVALID'
  | 'ERR_HARDWARE_IDENTITY_ISSUER'
  /** Remodel re-registration. */
  | 'ERR_REMODEL_NOT_ALLOWED'
  | 'ERR_REMODEL_SERIAL_INVALID'
  | 'ERR_REMODEL_DEVICE_KEY'
  | 'ERR_REMODEL_RULE_UNKNOWN'
  /** System-user assertions for factory service accounts. */
  | 'ERR_SYSTEM_USER_INVALID'
  | 'ERR_SYSTEM_USER_UNKNOWN'
  /** More registrations wait for the HSM than the queue holds. */
  | 'ERR_QUEUE_FULL'
  /** A fault on our side that may pass: HSM busy or away, database locked, overload. */
  | 'ERR_TEMPORARILY_UNAVAILABLE';

export class ProvisioningError extends VaultError {
  override readonly name = 'ProvisioningError';
  constructor(
    readonly code: ProvisioningErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
