import { hash, constants, createPublicKey, publicDecrypt, type KeyObject } from 'node:crypto';
import { decodeBase64Lines, encodeBase64Lines } from './base64.js';
import { AssertionError } from './errors.js';
import { readPublicKeyPacket } from './key-packet.js';
import { PUBKEY_RSA, writePublicKeyPacket, tightMpi, type RsaPublicKeyPacket } from './openpgp.js';

/** Every encoded key and signature starts with this format version byte. */
export const FORMAT_V1 = 0x01;

/** snapd fixes the creation time of the keys it encodes: 2016-01-01T00:00:00Z. */
export const FIXED_KEY_CREATION = Date.UTC(2016, 0, 1) / 1000;

/**
 * An RSA public key as snapd handles it: encoded as base64 of 0x01 and an
 * OpenPGP v4 public-key packet. snapd keeps only the modulus and exponent of
 * a decoded key and re-encodes them (fixed creation time, RSA, tight
 * integers): that re-encoding is the key's encoded form, and its base64url
 * SHA3-384 is the key id, whatever packet the key arrived in.
 */
export class PublicKey {
  /** The key id (`sign-key-sha3-384`, `device-key-sha3-384`, `public-key-sha3-384`). */
  readonly id: string;
  private readonly raw: Buffer;
  private keyObject: KeyObject | undefined;
  private encodedText: string | undefined;
  private modulusSize: number | undefined;

  private constructor(private readonly packet: RsaPublicKeyPacket) {
    this.raw = Buffer.concat([Buffer.from([FORMAT_V1]), writePublicKeyPacket(packet)]);
    this.id = hash('sha3-384', this.raw, 'base64url');
  }

  /** The canonical encoding, as lines joined by `\n` with no final line break. */
  get encoded(): string {
    this.encodedText ??= encodeBase64Lines(this.raw).join('\n');
    return this.encodedText;
  }

  /** Decodes snapd's encoded form; whitespace layout is free. */
  static decode(text: string): PublicKey {
    const raw = decodeBase64Lines(text, 'ERR_PUBLIC_KEY_INVALID', 'public key');
    if (raw.length === 0) throw new AssertionError('ERR_PUBLIC_KEY_INVALID', 'cannot decode public key: no data');
    if (raw[0] !== FORMAT_V1) {
      throw new AssertionError('ERR_PUBLIC_KEY_INVALID', `cannot decode public key: unsupported format version ${raw[0]}`);
    }
    const { n, e } = readPublicKeyPacket(raw.subarray(1));
    return PublicKey.fromModulus(n.bytes, e.bytes);
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

  /**
   * Verifies an RSA PKCS#1 v1.5 signature of `digestInfo` (the DER prefix of
   * the hash and the digest), as Go's `rsa.VerifyPKCS1v15` does: a signature
   * shorter than the modulus is left-padded with zeros, a longer one fails.
   */
  verifyDigestInfo(digestInfo: Uint8Array, signature: Uint8Array): boolean {
    const size = this.modulusBytes;
    if (signature.length > size) return false;
    let sig = signature;
    if (sig.length < size) {
      const padded = Buffer.alloc(size);
      padded.set(sig, size - sig.length);
      sig = padded;
    }
    try {
      const recovered = publicDecrypt({ key: this.toKeyObject(), padding: constants.RSA_PKCS1_PADDING }, sig);
      return recovered.equals(digestInfo);
    } catch {
      return false;
    }
  }
}
