/**
 * snapd's assertion format: grammar, types, signatures, keys and trust.
 * Pure: no file system, network or HSM access.
 */
export { Assertion, type AssertionParts, type TrustLookup, type TypeSpec, type ViewsByType } from './assertion.js';
export {
  MAX_BODY_SIZE,
  MAX_HEADERS_SIZE,
  MAX_SIGNATURE_SIZE,
  canonicalContent,
  decodeAssertion,
  decodeStream,
  decodeStreamIter,
  encodeStream,
  isCanonical,
  nextRevisionHeaders,
  signAssertion,
  type SignOptions,
} from './codec.js';
export { AssertionError, isAssertionError, type AssertionErrorCode } from './errors.js';
export { readHardwareBody, verifyRequestIdSignature, type HardwareBody } from './hardware-key.js';
export { HEADER_NAME, parseHeaders, type HeaderMap, type HeaderValue, type Headers } from './headers.js';
export { PublicKey } from './public-key.js';
export {
  MIN_SIGNING_KEY_BITS,
  NodeSigner,
  SHA512_DIGEST_INFO_PREFIX,
  decodeSignature,
  sha512DigestInfo,
  signContent,
  signingDigest,
  verifySignature,
  type Signer,
} from './signature.js';
export { streamPieces, type StreamPiece } from './stream-reader.js';
export { formatRfc3339, parseRfc3339 } from './time.js';
export { TrustDatabase, type BatchEntry, type CheckResult, type TrustDatabaseOptions } from './trust.js';
export { TYPES, isKnownType, typeSpec } from './type-table.js';
export type { AccountView } from './types/account.js';
export type { AccountKeyView } from './types/account-key.js';
export type { AccountKeyRequestView } from './types/account-key-request.js';
export type { DeviceSessionRequestView } from './types/device-session-request.js';
export { hardwareKeyDigest, type HardwareIdentityView } from './types/hardware-identity.js';
export type { ModelGrade, ModelSnap, ModelView, StorageSafety } from './types/model.js';
export { SERIES, type SerialView } from './types/serial.js';
export type { SerialRequestView } from './types/serial-request.js';
export type { SnapDeclarationView } from './types/snap-declaration.js';
export type { SnapRevisionView } from './types/snap-revision.js';
export type { StoreView } from './types/store.js';
export type { SystemUserView } from './types/system-user.js';
