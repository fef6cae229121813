import { VaultError } from '../errors.js';

/** Why a catalog operation (models, and later snaps, revisions and channels) is refused. */
export type CatalogErrorCode =
  /** The model's headers or settings are not valid (the message says which). */
  | 'ERR_MODEL_INVALID'
  /** The model's brand is not set up in this vault. */
  | 'ERR_MODEL_BRAND_UNKNOWN'
  /** The model does not verify against the brand's keys and the trusted roots. */
  | 'ERR_MODEL_UNTRUSTED'
  /** A serial template with other fields than the ones documented. */
  | 'ERR_SERIAL_TEMPLATE_INVALID';

export class CatalogError extends VaultError {
  override readonly name = 'CatalogError';
  constructor(
    readonly code: CatalogErrorCode,
    message: string,
  ) {
    super(message);
  }
}
