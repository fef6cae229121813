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
  | 'ERR_REMODEL_UNSUPPORTED'
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
