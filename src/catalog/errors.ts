import { VaultError } from '../errors.js';

/** Why a catalog operation (models, snaps, revisions, channels, curation) is refused. */
export type CatalogErrorCode =
  /** The model's headers or settings are not valid (the message says which). */
  | 'ERR_MODEL_INVALID'
  /** The model's brand is not set up in this vault. */
  | 'ERR_MODEL_BRAND_UNKNOWN'
  /** The model does not verify against the brand's keys and the trusted roots. */
  | 'ERR_MODEL_UNTRUSTED'
  /** The model names a snap the brand's store does not offer, of the wrong type, or owned by someone else. */
  | 'ERR_MODEL_SNAP'
  /** A serial template with other fields than the ones documented. */
  | 'ERR_SERIAL_TEMPLATE_INVALID'
  /** A snap name that snapd would not accept. */
  | 'ERR_SNAP_NAME_INVALID'
  /** The name is registered already (names are unique in the vault, as in the snap store). */
  | 'ERR_SNAP_EXISTS'
  /** No snap of that name (or not one the caller's store offers). */
  | 'ERR_SNAP_UNKNOWN'
  /** Gadget and kernel snaps belong to the brand's own store; a private snap to its store and the stores below it. */
  | 'ERR_SNAP_OWNER'
  /** The caller is neither the snap's publisher nor one of its collaborators. */
  | 'ERR_SNAP_NOT_COLLABORATOR'
  /** The file is not a squashfs image (a .snap starts with "hsqs"). */
  | 'ERR_SNAP_NOT_SQUASHFS'
  /** The file is shorter than its squashfs superblock says. */
  | 'ERR_SNAP_TRUNCATED'
  /** The upload is larger than catalog.maxSnapBytes. */
  | 'ERR_SNAP_TOO_LARGE'
  /** A snap file fetched from central (an appliance's blob on demand) is not the one asked for. */
  | 'ERR_SNAP_DIGEST_MISMATCH'
  /** meta/snap.yaml is missing or one of its fields is invalid (the message names it). */
  | 'ERR_SNAP_YAML_INVALID'
  /** A snap.yaml field does not match the registration (the message names it). */
  | 'ERR_SNAP_YAML_MISMATCH'
  /** The version is not one snapd accepts. */
  | 'ERR_SNAP_VERSION_INVALID'
  /** No upload with that id. */
  | 'ERR_UPLOAD_UNKNOWN'
  /** No such revision of the snap. */
  | 'ERR_REVISION_UNKNOWN'
  /** The revision is not approved (it needs review, or was rejected), so it cannot be released. */
  | 'ERR_REVISION_NOT_APPROVED'
  /** The revision is not waiting for review. */
  | 'ERR_REVIEW_NOT_PENDING'
  /** Nobody may approve their own upload. */
  | 'ERR_REVIEW_SELF'
  /** A channel that is not track/risk[/branch] with a known risk. */
  | 'ERR_CHANNEL_INVALID'
  /** A devel-grade revision cannot go to stable or candidate. */
  | 'ERR_CHANNEL_GRADE'
  /** A device would reject what the vault would sign here (the message says why). */
  | 'ERR_SIGNING_REFUSED';

export class CatalogError extends VaultError {
  override readonly name = 'CatalogError';
  constructor(
    readonly code: CatalogErrorCode,
    message: string,
  ) {
    super(message);
  }
}
