import { verify } from 'node:crypto';
import { AssertionError } from './errors.js';
import type { HardwareIdentityView } from './types/hardware-identity.js';

/** What a gadget's `prepare-serial-request` hook puts in the serial-request body to prove its hardware key. */
export interface HardwareBody {
  /** The `hardware-id-key-sha3-384` of the device's hardware-identity assertion. */
  readonly keyDigest: string;
  /** The hardware key's signature of the request-id. */
  readonly signature: Buffer;
}

/**
 * snapd requires `hardware-id-key-sha384` in the body (handlers_serial.go);
 * Canonical's documentation names it `hardware-id-key-sha3-384`. Either is
 * read, and when both are sent they must agree.
 */
const DIGEST_FIELDS = ['hardware-id-key-sha3-384', 'hardware-id-key-sha384'] as const;
const SIGNATURE_FIELD = 'request-id-signature';

/** An unpadded base64url SHA3-384 digest: 48 bytes, 64 characters. */
const DIGEST = /^[A-Za-z0-9_-]{64}$/;
const STANDARD = /^[A-Za-z0-9+/]+={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]+={0,2}$/;

const malformed = (message: string) => new AssertionError('ERR_HEADER_INVALID', message);

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function readDigest(fields: Record<string, unknown>): string {
  const given = DIGEST_FIELDS.filter((f) => fields[f] !== undefined);
  const values = given.map((f) => {
    const v = fields[f];
    if (typeof v !== 'string' || !DIGEST.test(v)) {
      throw malformed(`"${f}" in the serial-request body must be the unpadded base64url SHA3-384 of the hardware-id-key (64 characters)`);
    }
    return v;
  });
  if (values.length === 2 && values[0] !== values[1]) {
    throw new AssertionError('ERR_HEADER_MISMATCH', `"${DIGEST_FIELDS[0]}" and "${DIGEST_FIELDS[1]}" in the serial-request body name different keys`);
  }
  return values[0] as string;
}

/**
 * Hooks write the signature with whatever base64 tool they have: standard
 * or URL-safe alphabet, padded or not, maybe wrapped in lines. Mixed
 * alphabets or a length no encoding produces are refused rather than
 * guessed at (Node's decoder would silently skip what it does not know).
 */
function readSignature(value: unknown): Buffer {
  const invalid = () => malformed(`"${SIGNATURE_FIELD}" in the serial-request body must be the base64 signature of the request-id by the hardware key`);
  if (typeof value !== 'string') throw invalid();
  const text = value.replace(/\s/g, '');
  if (!(STANDARD.test(text) || URL_SAFE.test(text))) throw invalid();
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1 || (text.length !== unpadded.length && text.length % 4 !== 0)) throw invalid();
  const signature = Buffer.from(unpadded, /[-_]/.test(unpadded) ? 'base64url' : 'base64');
  if (signature.length === 0) throw invalid();
  return signature;
}

/**
 * The hardware proof in a serial-request body: undefined when the body is
 * not a JSON object with both fields (the device did not try), an error
 * when it has them but they are malformed (the hook got them wrong).
 */
export function readHardwareBody(body: Buffer | undefined): HardwareBody | undefined {
  if (!body || body.length === 0) return undefined;
  const fields = parseObject(body);
  if (!fields) return undefined;
  if (!DIGEST_FIELDS.some((f) => fields[f] !== undefined) || fields[SIGNATURE_FIELD] === undefined) return undefined;
  return { keyDigest: readDigest(fields), signature: readSignature(fields[SIGNATURE_FIELD]) };
}

/**
 * snapd's VerifyNonceSignature leaves the hash to the service. We take
 * SHA-256 first, as hooks usually sign with it, and the others a hardware
 * key may be set to: any one verifying proves the device holds the key.
 */
const HASHES = ['sha256', 'sha384', 'sha512', 'sha3-384'] as const;

/**
 * Whether `signature` is the hardware key's signature of the request-id's
 * bytes: RSA PKCS#1 v1.5, or ECDSA with a DER (r, s) and no trailing bytes
 * (OpenSSL re-encodes and compares, as snapd checks). Other kinds of key
 * cannot prove anything here, as in snapd.
 */
export function verifyRequestIdSignature(identity: HardwareIdentityView, requestId: string, signature: Buffer): boolean {
  const key = identity.hardwareKey;
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') return false;
  const data = Buffer.from(requestId, 'utf8');
  return HASHES.some((algorithm) => {
    try {
      return verify(algorithm, data, type === 'ec' ? { key, dsaEncoding: 'der' } : key, signature);
    } catch {
      return false;
    }
  });
}
