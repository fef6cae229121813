import { VaultError } from '../errors.js';

/** Why setting a data directory up failed. */
export type SetupErrorCode =
  /** The SoftHSM2 module is not installed. */
  | 'ERR_SOFTHSM_MISSING'
  /** A file the package ships is missing (a broken installation). */
  | 'ERR_INSTALL_INCOMPLETE'
  /** The demo's rows are not all there after it was made. */
  | 'ERR_DEMO_INCOMPLETE';

export class SetupError extends VaultError {
  override readonly name = 'SetupError';
  constructor(
    readonly code: SetupErrorCode,
    message: string,
  ) {
    super(message);
  }
}
