import { VaultError } from '../errors.js';

/**
 * Every refusal of the codec carries one of these codes. They are part of the
 * product's interface (logs, API error bodies, tests), so a code is never
 * renamed or reused for a different problem.
 */
export type AssertionErrorCode =
  /** The text does not follow the assertion grammar (separators, header lines, indentation). */
  | 'ERR_ASSERTION_SYNTAX'
  /** Headers, body or signature exceed snapd's limits. */
  | 'ERR_ASSERTION_TOO_LARGE'
  /** Text that must be UTF-8 is not. */
  | 'ERR_ASSERTION_ENCODING'
  /** `body-length` disagrees with the body actually present. */
  | 'ERR_BODY_LENGTH_MISMATCH'
  /** A mandatory header is absent. */
  | 'ERR_HEADER_MISSING'
  /** A header is present but its value is malformed or out of range. */
  | 'ERR_HEADER_INVALID'
  /** A header is present where the assertion's kind forbids it. */
  | 'ERR_HEADER_FORBIDDEN'
  /** Two headers (or a header and the body) that must agree do not. */
  | 'ERR_HEADER_MISMATCH'
  /** The type is not one the codec can sign (decoding accepts unknown types). */
  | 'ERR_TYPE_UNKNOWN'
  /** The signature is not a well-formed OpenPGP signature packet as snapd writes them. */
  | 'ERR_SIGNATURE_MALFORMED'
  /** The signature uses an algorithm or hash the codec does not accept. */
  | 'ERR_SIGNATURE_UNSUPPORTED'
  /** The signature does not verify against the signing key. */
  | 'ERR_SIGNATURE_INVALID'
  /** An encoded public key cannot be decoded, or a key is not usable for the purpose. */
  | 'ERR_PUBLIC_KEY_INVALID'
  /** No known account-key matches `sign-key-sha3-384` for the authority. */
  | 'ERR_KEY_UNKNOWN'
  /** The signing key is expired now, or the assertion's timestamp is outside its validity. */
  | 'ERR_KEY_NOT_VALID'
  /** The signer is not allowed to sign this assertion (trust or serial-authority rules). */
  | 'ERR_AUTHORITY_NOT_ALLOWED'
  /** An assertion this one depends on is not known (yet). */
  | 'ERR_PREREQUISITE_MISSING'
  /** A different assertion with the same primary key and a revision not lower is already known. */
  | 'ERR_REVISION_CONFLICT'
  /** The signer failed to produce a signature. */
  | 'ERR_SIGNER_FAILED';

export interface AssertionErrorDetails {
  /** The header (or map entry path) the problem is about, when there is one. */
  readonly header?: string;
  readonly cause?: unknown;
}

/**
 * The only error type the codec throws. `message` follows snapd's house style:
 * lower case, names quoted, saying what cannot be done and why.
 */
export class AssertionError extends VaultError {
  override readonly name = 'AssertionError';
  readonly code: AssertionErrorCode;
  readonly header: string | undefined;

  constructor(code: AssertionErrorCode, message: string, details: AssertionErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.header = details.header;
  }

  /** The same error with a context prefix, as snapd prefixes "assertion serial: …". */
  withContext(prefix: string): AssertionError {
    const wrapped = new AssertionError(this.code, `${prefix}: ${this.message}`, {
      ...(this.header === undefined ? {} : { header: this.header }),
      cause: this.cause,
    });
    return wrapped;
  }
}

export function isAssertionError(e: unknown): e is AssertionError {
  return e instanceof AssertionError;
}
