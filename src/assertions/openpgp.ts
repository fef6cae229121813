/**
 * The few OpenPGP (RFC 4880) packets snapd uses: a v4 RSA public key packet
 * and a v4 signature packet. Writing follows exactly what snapd writes;
 * reading (`key-packet.ts`, `signature-packet.ts`) follows what snapd's Go
 * OpenPGP package accepts.
 */

export const TAG_SIGNATURE = 2;
export const TAG_PUBLIC_KEY = 6;
/** Go's packet reader returns a public subkey as the same public key type, and snapd takes it. */
export const TAG_PUBLIC_SUBKEY = 14;

export const PUBKEY_RSA = 1;
export const PUBKEY_RSA_ENCRYPT_ONLY = 2;
export const PUBKEY_RSA_SIGN_ONLY = 3;

/**
 * OpenPGP hash algorithm ids snapd verifies with, and their Node names.
 * snapd hashes with whatever the signature names, and its binary links MD5
 * and SHA-1 (through crypto/tls), so both verify there: we accept them too.
 * RIPEMD-160 (3) parses but is not linked into snapd, so it never verifies.
 */
export const HASHES: Readonly<Record<number, string>> = {
  1: 'md5',
  2: 'sha1',
  8: 'sha256',
  9: 'sha384',
  10: 'sha512',
  11: 'sha224',
};
export const HASH_RIPEMD160 = 3;
export const HASH_SHA512 = 10;

export const SIG_BINARY = 0x00;

export const SUBPACKET_CREATION_TIME = 2;

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

export interface RsaPublicKeyPacket {
  readonly created: number;
  readonly algorithm: number;
  readonly n: Mpi;
  readonly e: Mpi;
}

export function writePublicKeyPacket(key: RsaPublicKeyPacket): Buffer {
  const head = Buffer.alloc(6);
  head[0] = 4;
  head.writeUInt32BE(key.created, 1);
  head[5] = key.algorithm;
  return writePacket(TAG_PUBLIC_KEY, Buffer.concat([head, writeMpi(key.n), writeMpi(key.e)]));
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
