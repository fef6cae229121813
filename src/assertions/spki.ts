import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { AssertionError } from './errors.js';

/**
 * A DER SubjectPublicKeyInfo read as Go's x509.ParsePKIXPublicKey reads it
 * (snapd's parser for hardware keys). OpenSSL parses more: trailing bytes,
 * lengths not in their shortest form, compressed points, RSA keys without
 * their NULL parameters, kinds Go does not know. Those are refused here.
 * The usual kinds are rebuilt from their parts, which OpenSSL takes ten
 * times faster than DER (an import checks 100,000 keys); the curve point is
 * still checked, by OpenSSL.
 */

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const NULL = 0x05;
const OBJECT_IDENTIFIER = 0x06;

const RSA = '2a864886f70d010101';
const EC = '2a8648ce3d0201';
const DSA = '2a8648ce380401';
const OKP: Readonly<Record<string, string>> = { '2b6570': 'Ed25519', '2b656e': 'X25519' };
/** The curves Go knows, by OID: the JWK name (P-224 has none) and the field size in bytes. */
const CURVES: Readonly<Record<string, { readonly name: string; readonly jwk?: string; readonly size: number }>> = {
  '2b81040021': { name: 'secp224r1', size: 28 },
  '2a8648ce3d030107': { name: 'prime256v1', jwk: 'P-256', size: 32 },
  '2b81040022': { name: 'secp384r1', jwk: 'P-384', size: 48 },
  '2b81040023': { name: 'secp521r1', jwk: 'P-521', size: 66 },
};

interface Tlv {
  readonly tag: number;
  /** Where the value starts and ends. */
  readonly start: number;
  readonly end: number;
}

/** One DER element at `pos`, its length in the shortest form and inside `limit`; undefined otherwise. */
function readTlv(der: Buffer, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = der[pos] as number;
  const first = der[pos + 1] as number;
  let start = pos + 2;
  let length = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 3 || start + n > limit || der[start] === 0) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (der[start + i] as number);
    if (length < 0x80) return undefined;
    start += n;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

interface Outline {
  readonly algorithm: string;
  /** The algorithm's parameters, whole (tag and length too), or undefined when absent. */
  readonly parameters: Buffer | undefined;
  readonly key: Buffer;
}

/** One SEQUENCE of the algorithm and the key bits, and nothing after it; undefined when it is not that in DER. */
function outline(der: Buffer): Outline | undefined {
  const spki = readTlv(der, 0, der.length);
  if (spki?.tag !== SEQUENCE || spki.end !== der.length) return undefined;
  const algorithm = readTlv(der, spki.start, spki.end);
  if (algorithm?.tag !== SEQUENCE) return undefined;
  const oid = readTlv(der, algorithm.start, algorithm.end);
  if (oid?.tag !== OBJECT_IDENTIFIER) return undefined;
  let parameters: Buffer | undefined;
  if (oid.end !== algorithm.end) {
    const p = readTlv(der, oid.end, algorithm.end);
    if (p?.end !== algorithm.end) return undefined;
    parameters = der.subarray(oid.end, p.end);
  }
  const bits = readTlv(der, algorithm.end, spki.end);
  if (bits?.tag !== BIT_STRING || bits.end !== spki.end || bits.end === bits.start || der[bits.start] !== 0) return undefined;
  return { algorithm: der.toString('hex', oid.start, oid.end), parameters, key: der.subarray(bits.start + 1, bits.end) };
}

/** A positive INTEGER in its shortest form (Go refuses a modulus or exponent that is not positive), without its sign byte. */
function positiveInteger(der: Buffer, t: Tlv | undefined): Buffer | undefined {
  if (t?.tag !== INTEGER || t.end === t.start) return undefined;
  const value = der.subarray(t.start, t.end);
  if ((value[0] as number) & 0x80) return undefined;
  if (value[0] === 0 && (value.length === 1 || !((value[1] as number) & 0x80))) return undefined;
  return value[0] === 0 ? value.subarray(1) : value;
}

/** The key as a JWK when it is of a kind rebuilt from its parts, null for DER parsing, or the reason it is refused. */
function parts(o: Outline): JsonWebKey | null | string {
  const b64 = (b: Buffer) => b.toString('base64url');
  if (o.algorithm === RSA) {
    if (!o.parameters?.equals(Buffer.from([NULL, 0]))) return 'RSA key missing NULL parameters';
    const seq = readTlv(o.key, 0, o.key.length);
    if (seq?.tag !== SEQUENCE || seq.end !== o.key.length) return 'invalid RSA public key';
    const nTlv = readTlv(o.key, seq.start, seq.end);
    const eTlv = nTlv && readTlv(o.key, nTlv.end, seq.end);
    const n = positiveInteger(o.key, nTlv);
    const e = positiveInteger(o.key, eTlv);
    if (!n || !e || eTlv?.end !== seq.end || e.length > 8) return 'invalid RSA public key: the modulus and exponent must be positive integers';
    return { kty: 'RSA', n: b64(n), e: b64(e) };
  }
  const okp = OKP[o.algorithm];
  if (okp) {
    if (o.parameters) return `${okp} key encoded with illegal parameters`;
    return o.key.length === 32 ? { kty: 'OKP', crv: okp, x: b64(o.key) } : `invalid ${okp} key length`;
  }
  if (o.algorithm === EC) {
    const p = o.parameters && readTlv(o.parameters, 0, o.parameters.length);
    const curve = p?.tag === OBJECT_IDENTIFIER ? CURVES[o.parameters!.toString('hex', p.start, p.end)] : undefined;
    if (!curve) return 'unsupported elliptic curve';
    // OpenSSL keeps a compressed (or hybrid) point as it came; Go reads only uncompressed ones.
    if (o.key.length !== 1 + 2 * curve.size || o.key[0] !== 0x04) return 'the elliptic curve point is not uncompressed';
    if (!curve.jwk) return null;
    return { kty: 'EC', crv: curve.jwk, x: b64(o.key.subarray(1, 1 + curve.size)), y: b64(o.key.subarray(1 + curve.size)) };
  }
  return o.algorithm === DSA ? null : 'unsupported public key algorithm';
}

/** Parses a public key, refusing what Go would; messages start as Go's do, "cannot parse public key". */
export function parseSubjectPublicKeyInfo(der: Buffer, header: string): KeyObject {
  const invalid = (why: string) => new AssertionError('ERR_PUBLIC_KEY_INVALID', `cannot parse public key: ${why}`, { header });
  const o = outline(der);
  if (!o) throw invalid('not a DER SubjectPublicKeyInfo');
  const jwk = parts(o);
  if (typeof jwk === 'string') throw invalid(jwk);
  try {
    return jwk ? createPublicKey({ key: jwk, format: 'jwk' }) : createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (e) {
    throw invalid(e instanceof Error ? e.message : String(e));
  }
}
