import { AssertionError, type AssertionErrorCode } from './errors.js';

/**
 * The few OpenPGP (RFC 4880) packets snapd uses: a v4 RSA public key packet
 * and a v4 signature packet. Only what is needed to read what snapd and GnuPG
 * write and to write exactly what snapd writes.
 */

export const TAG_SIGNATURE = 2;
export const TAG_PUBLIC_KEY = 6;

export const PUBKEY_RSA = 1;
export const PUBKEY_RSA_SIGN_ONLY = 3;

/** OpenPGP hash algorithm ids and their Node names. SHA-1 and MD5 are refused on purpose. */
export const HASHES: Readonly<Record<number, string>> = {
  8: 'sha256',
  9: 'sha384',
  10: 'sha512',
  11: 'sha224',
};
export const HASH_SHA512 = 10;

export const SIG_BINARY = 0x00;
export const SIG_TEXT = 0x01;

const SUBPACKET_CREATION_TIME = 2;

/** Reads one packet from `data`; the whole input must be that packet. */
export function readPacket(data: Uint8Array, code: AssertionErrorCode, what: string): { tag: number; body: Buffer } {
  const fail = (why: string) => new AssertionError(code, `cannot decode ${what}: ${why}`);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const first = buf[0];
  if (first === undefined || (first & 0x80) === 0) throw fail('not an OpenPGP packet');
  let tag: number;
  let offset: number;
  let length: number;
  if ((first & 0x40) !== 0) {
    tag = first & 0x3f;
    const l0 = buf[1];
    if (l0 === undefined) throw fail('truncated packet header');
    if (l0 < 192) {
      length = l0;
      offset = 2;
    } else if (l0 < 224) {
      const l1 = buf[2];
      if (l1 === undefined) throw fail('truncated packet header');
      length = ((l0 - 192) << 8) + l1 + 192;
      offset = 3;
    } else if (l0 === 255) {
      if (buf.length < 6) throw fail('truncated packet header');
      length = buf.readUInt32BE(2);
      offset = 6;
    } else {
      throw fail('partial body lengths are not supported');
    }
  } else {
    tag = (first >> 2) & 0x0f;
    const lengthType = first & 0x03;
    if (lengthType === 3) throw fail('indeterminate packet length is not supported');
    const size = 1 << lengthType;
    if (buf.length < 1 + size) throw fail('truncated packet header');
    length = size === 1 ? (buf[1] as number) : size === 2 ? buf.readUInt16BE(1) : buf.readUInt32BE(1);
    offset = 1 + size;
  }
  if (offset + length !== buf.length) {
    throw fail(offset + length > buf.length ? 'truncated packet' : 'unexpected data after the packet');
  }
  return { tag, body: buf.subarray(offset) };
}

/** The size of the new-format header `writePacket` puts before a body of `n` bytes. */
export function writePacketHeaderLength(n: number): number {
  return n < 192 ? 2 : n < 8384 ? 3 : 6;
}

/** Writes a packet with a new-format header, as Go's OpenPGP package does. */
export function writePacket(tag: number, body: Uint8Array): Buffer {
  const n = body.length;
  let header: Buffer;
  if (n < 192) {
    header = Buffer.from([0xc0 | tag, n]);
  } else if (n < 8384) {
    const m = n - 192;
    header = Buffer.from([0xc0 | tag, 192 + (m >> 8), m & 0xff]);
  } else {
    header = Buffer.alloc(6);
    header[0] = 0xc0 | tag;
    header[1] = 255;
    header.writeUInt32BE(n, 2);
  }
  return Buffer.concat([header, body]);
}

/**
 * An OpenPGP multiprecision integer as read or to be written. The bit count
 * is kept as given: Go's OpenPGP code re-serializes a parsed integer with
 * the count it read, and writes RSA signatures with 8 × their byte length,
 * leading zeros included. Key ids and signatures depend on those bytes.
 */
export interface Mpi {
  readonly bits: number;
  readonly bytes: Buffer;
}

/** The tight MPI of a big-endian unsigned integer (leading zeros dropped). */
export function tightMpi(value: Uint8Array): Mpi {
  let start = 0;
  while (start < value.length && value[start] === 0) start++;
  const bytes = Buffer.from(value.subarray(start));
  const bits = bytes.length === 0 ? 0 : (bytes.length - 1) * 8 + (32 - Math.clz32(bytes[0] as number));
  return { bits, bytes };
}

export function writeMpi(mpi: Mpi): Buffer {
  const out = Buffer.alloc(2 + mpi.bytes.length);
  out.writeUInt16BE(mpi.bits, 0);
  out.set(mpi.bytes, 2);
  return out;
}

export class Reader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly fail: (why: string) => AssertionError,
  ) {}
  get offset(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  u8(): number {
    if (this.pos + 1 > this.buf.length) throw this.fail('truncated');
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    if (this.pos + 2 > this.buf.length) throw this.fail('truncated');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    if (this.pos + 4 > this.buf.length) throw this.fail('truncated');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw this.fail('truncated');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  mpi(): Mpi {
    const bits = this.u16();
    return { bits, bytes: this.bytes((bits + 7) >> 3) };
  }
}

export interface RsaPublicKeyPacket {
  readonly created: number;
  readonly algorithm: number;
  readonly n: Mpi;
  readonly e: Mpi;
}

export function parsePublicKeyPacket(body: Buffer): RsaPublicKeyPacket {
  const fail = (why: string) => new AssertionError('ERR_PUBLIC_KEY_INVALID', `cannot decode public key: ${why}`);
  const r = new Reader(body, fail);
  const version = r.u8();
  if (version !== 4) throw fail(`unsupported key packet version ${version}`);
  const created = r.u32();
  const algorithm = r.u8();
  if (algorithm !== PUBKEY_RSA && algorithm !== PUBKEY_RSA_SIGN_ONLY) {
    throw fail(`unsupported public key algorithm ${algorithm} (only RSA is supported)`);
  }
  const n = r.mpi();
  const e = r.mpi();
  if (r.remaining !== 0) throw fail('unexpected data after the key');
  if (isZero(n.bytes) || isZero(e.bytes)) throw fail('empty RSA modulus or exponent');
  return { created, algorithm, n, e };
}

export function writePublicKeyPacket(key: RsaPublicKeyPacket): Buffer {
  const head = Buffer.alloc(6);
  head[0] = 4;
  head.writeUInt32BE(key.created, 1);
  head[5] = key.algorithm;
  return writePacket(TAG_PUBLIC_KEY, Buffer.concat([head, writeMpi(key.n), writeMpi(key.e)]));
}

const isZero = (b: Buffer): boolean => b.every((x) => x === 0);

export interface SignaturePacket {
  readonly sigType: number;
  readonly pubkeyAlgorithm: number;
  readonly hashAlgorithm: number;
  /** The bytes from the version through the hashed subpackets: what the digest covers after the content. */
  readonly hashedPart: Buffer;
  readonly created: number;
  readonly left16: Buffer;
  readonly signature: Mpi;
}

export function parseSignaturePacket(body: Buffer): SignaturePacket {
  const fail = (why: string) => new AssertionError('ERR_SIGNATURE_MALFORMED', `cannot decode signature: ${why}`);
  const unsupported = (why: string) =>
    new AssertionError('ERR_SIGNATURE_UNSUPPORTED', `cannot verify signature: ${why}`);
  const r = new Reader(body, fail);
  const version = r.u8();
  if (version !== 4) throw unsupported(`unsupported signature packet version ${version}`);
  const sigType = r.u8();
  if (sigType !== SIG_BINARY && sigType !== SIG_TEXT) {
    throw unsupported(`unsupported signature type 0x${sigType.toString(16).padStart(2, '0')}`);
  }
  const pubkeyAlgorithm = r.u8();
  if (pubkeyAlgorithm !== PUBKEY_RSA && pubkeyAlgorithm !== PUBKEY_RSA_SIGN_ONLY) {
    throw unsupported(`unsupported public key algorithm ${pubkeyAlgorithm} (only RSA is supported)`);
  }
  const hashAlgorithm = r.u8();
  if (HASHES[hashAlgorithm] === undefined) throw unsupported(`unsupported hash algorithm ${hashAlgorithm}`);
  const hashedLength = r.u16();
  const hashedSubpackets = r.bytes(hashedLength);
  const hashedPart = body.subarray(0, r.offset);
  const unhashedLength = r.u16();
  const unhashedSubpackets = r.bytes(unhashedLength);
  const left16 = r.bytes(2);
  const signature = r.mpi();
  if (r.remaining !== 0) throw fail('unexpected data after the signature');

  let created: number | undefined;
  forEachSubpacket(hashedSubpackets, fail, (type, critical, data) => {
    if (type === SUBPACKET_CREATION_TIME) {
      if (data.length !== 4) throw fail('malformed creation time subpacket');
      created = data.readUInt32BE(0);
    } else if (critical && !KNOWN_SUBPACKETS.has(type)) {
      throw unsupported(`unknown critical subpacket ${type}`);
    }
  });
  forEachSubpacket(unhashedSubpackets, fail, (type, critical) => {
    if (critical && !KNOWN_SUBPACKETS.has(type)) throw unsupported(`unknown critical subpacket ${type}`);
  });
  if (created === undefined) throw fail('no signature creation time');
  return { sigType, pubkeyAlgorithm, hashAlgorithm, hashedPart, created, left16, signature };
}

/** Subpackets we understand well enough to ignore when marked critical. */
const KNOWN_SUBPACKETS = new Set([2, 3, 16, 33]);

function forEachSubpacket(
  data: Buffer,
  fail: (why: string) => AssertionError,
  visit: (type: number, critical: boolean, data: Buffer) => void,
): void {
  const r = new Reader(data, fail);
  while (r.remaining > 0) {
    const l0 = r.u8();
    let length: number;
    if (l0 < 192) length = l0;
    else if (l0 < 255) length = ((l0 - 192) << 8) + r.u8() + 192;
    else length = r.u32();
    if (length < 1) throw fail('empty subpacket');
    const typeByte = r.u8();
    visit(typeByte & 0x7f, (typeByte & 0x80) !== 0, r.bytes(length - 1));
  }
}

/** The hashed part snapd writes: v4, binary, RSA, SHA-512, one creation-time subpacket. */
export function snapdHashedPart(created: number): Buffer {
  const part = Buffer.from([4, SIG_BINARY, PUBKEY_RSA, HASH_SHA512, 0, 6, 5, SUBPACKET_CREATION_TIME, 0, 0, 0, 0]);
  part.writeUInt32BE(created, 8);
  return part;
}

/** The trailer after the hashed part: version 4, 0xFF, the hashed part's length. */
export function hashTrailer(hashedPart: Buffer): Buffer {
  const t = Buffer.from([4, 0xff, 0, 0, 0, 0]);
  t.writeUInt32BE(hashedPart.length, 2);
  return t;
}

export function writeSignaturePacket(hashedPart: Buffer, digest: Buffer, signature: Uint8Array): Buffer {
  return writePacket(
    TAG_SIGNATURE,
    Buffer.concat([
      hashedPart,
      Buffer.from([0, 0]),
      digest.subarray(0, 2),
      writeMpi({ bits: signature.length * 8, bytes: Buffer.from(signature) }),
    ]),
  );
}
