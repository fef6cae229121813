import { hash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { decodeBase64Lines, encodeBase64Lines } from './base64.js';
import { AssertionError } from './errors.js';
import {
  PUBKEY_RSA,
  TAG_PUBLIC_KEY,
  parsePublicKeyPacket,
  readPacket,
  writePublicKeyPacket,
  tightMpi,
  writePacketHeaderLength,
  type RsaPublicKeyPacket,
} from './openpgp.js';

/** Every encoded key and signature starts with this format version byte. */
export const FORMAT_V1 = 0x01;

/** snapd fixes the creation time of the keys it encodes: 2016-01-01T00:00:00Z. */
export const FIXED_KEY_CREATION = Date.UTC(2016, 0, 1) / 1000;

/**
 * An RSA public key as snapd handles it: encoded as base64 of 0x01 and an
 * OpenPGP v4 public-key packet, identified by the base64url SHA3-384 of the
 * canonical re-encoding of that packet.
 */
export class PublicKey {
  /** The key id (`sign-key-sha3-384`, `device-key-sha3-384`, `public-key-sha3-384`). */
  readonly id: string;
  private readonly raw: Buffer;
  private keyObject: KeyObject | undefined;
  private encodedText: string | undefined;
  private modulusSize: number | undefined;

  private constructor(
    private readonly packet: RsaPublicKeyPacket,
    canonicalRaw?: Buffer,
  ) {
    this.raw = canonicalRaw ?? Buffer.concat([Buffer.from([FORMAT_V1]), writePublicKeyPacket(packet)]);
    this.id = hash('sha3-384', this.raw, 'base64url');
  }

  /** The canonical encoding, as lines joined by `\n` with no final line break. */
  get encoded(): string {
    this.encodedText ??= encodeBase64Lines(this.raw).join('\n');
    return this.encodedText;
  }

  /** Decodes snapd's encoded form; whitespace layout is free, the packet must be exact. */
  static decode(text: string): PublicKey {
    const raw = decodeBase64Lines(text, 'ERR_PUBLIC_KEY_INVALID', 'public key');
    if (raw.length === 0) throw new AssertionError('ERR_PUBLIC_KEY_INVALID', 'cannot decode public key: no data');
    if (raw[0] !== FORMAT_V1) {
      throw new AssertionError('ERR_PUBLIC_KEY_INVALID', `cannot decode public key: unsupported format version ${raw[0]}`);
    }
    const { tag, body } = readPacket(raw.subarray(1), 'ERR_PUBLIC_KEY_INVALID', 'public key');
    if (tag !== TAG_PUBLIC_KEY) {
      throw new AssertionError('ERR_PUBLIC_KEY_INVALID', `cannot decode public key: expected a public key packet, got tag ${tag}`);
    }
    // Key ids hash the canonical encoding; snapd's own (a new-format header
    // with the shortest length) is already canonical and is hashed as received.
    const canonical = raw[1] === 0xc6 && raw.length - 1 === writePacketHeaderLength(body.length) + body.length ? raw : undefined;
    return new PublicKey(parsePublicKeyPacket(body), canonical);
  }

  /** Wraps an RSA public (or private) Node key with snapd's fixed creation time. */
  static fromKeyObject(key: KeyObject): PublicKey {
    const pub = key.type === 'private' ? createPublicKey(key) : key;
    if (pub.asymmetricKeyType !== 'rsa') {
      throw new AssertionError('ERR_PUBLIC_KEY_INVALID', `cannot use a ${pub.asymmetricKeyType ?? 'unknown'} key: only RSA is supported`);
    }
    const jwk = pub.export({ format: 'jwk' });
    return PublicKey.fromModulus(Buffer.from(jwk.n as string, 'base64url'), Buffer.from(jwk.e as string, 'base64url'));
  }

  /** Builds a key from its RSA modulus and public exponent (big-endian), e.g. as read from an HSM. */
  static fromModulus(n: Uint8Array, e: Uint8Array): PublicKey {
    return new PublicKey({ created: FIXED_KEY_CREATION, algorithm: PUBKEY_RSA, n: tightMpi(n), e: tightMpi(e) });
  }

  /** Size of the modulus in bits. */
  get bits(): number {
    return tightMpi(this.packet.n.bytes).bits;
  }

  /** The modulus length in bytes: RSA signatures are padded to it. */
  get modulusBytes(): number {
    this.modulusSize ??= tightMpi(this.packet.n.bytes).bytes.length;
    return this.modulusSize;
  }

  toKeyObject(): KeyObject {
    this.keyObject ??= createPublicKey({
      key: { kty: 'RSA', n: tightMpi(this.packet.n.bytes).bytes.toString('base64url'), e: tightMpi(this.packet.e.bytes).bytes.toString('base64url') },
      format: 'jwk',
    });
    return this.keyObject;
  }

  /** Verifies an RSA PKCS#1 v1.5 signature over `data` hashed with `hash`. */
  verify(hash: string, data: Uint8Array, signature: Uint8Array): boolean {
    const size = this.modulusBytes;
    let sig = signature;
    // MPIs may drop leading zero bytes (or, from Go, keep them): OpenSSL wants exactly the modulus length.
    if (sig.length > size) {
      const extra = sig.length - size;
      if (!sig.subarray(0, extra).every((b) => b === 0)) return false;
      sig = sig.subarray(extra);
    } else if (sig.length < size) {
      const padded = new Uint8Array(size);
      padded.set(sig, size - sig.length);
      sig = padded;
    }
    try {
      return cryptoVerify(hash, data, this.toKeyObject(), sig);
    } catch {
      return false;
    }
  }
}
