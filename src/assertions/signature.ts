import { createHash, privateEncrypt, constants, type KeyObject } from 'node:crypto';
import { decodeBase64Lines, encodeBase64Lines } from './base64.js';
import { AssertionError } from './errors.js';
import { HASHES, PUBKEY_RSA, hashTrailer, snapdHashedPart, writeSignaturePacket } from './openpgp.js';
import { FORMAT_V1, PublicKey } from './public-key.js';
import { readSignaturePacket, type SignaturePacket } from './signature-packet.js';

/** ASN.1 DigestInfo prefixes (RFC 8017, section 9.2, note 1), by Node hash name: the ones Go's RSA verifier knows. */
const DIGEST_INFO_PREFIX: Readonly<Record<string, Buffer>> = {
  md5: Buffer.from('3020300c06082a864886f70d020505000410', 'hex'),
  sha1: Buffer.from('3021300906052b0e03021a05000414', 'hex'),
  sha224: Buffer.from('302d300d06096086480165030402040500041c', 'hex'),
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};
export const SHA512_DIGEST_INFO_PREFIX = DIGEST_INFO_PREFIX['sha512'] as Buffer;

/** DigestInfo(SHA-512) ‖ digest: what `CKM_RSA_PKCS` signs for a SHA-512 RSA signature. */
export function sha512DigestInfo(digest: Uint8Array): Buffer {
  if (digest.length !== 64) throw new RangeError('a SHA-512 digest has 64 bytes');
  return Buffer.concat([SHA512_DIGEST_INFO_PREFIX, digest]);
}

/**
 * Something that holds a private RSA key and signs with it, in the process or
 * in an HSM. It is handed the SHA-512 digest of the OpenPGP signature data and
 * returns the RSA PKCS#1 v1.5 signature of DigestInfo(SHA-512) ‖ digest.
 */
export interface Signer {
  readonly publicKey: PublicKey;
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

/** snapd refuses to sign with external keys smaller than this; we hold our keys to the same bar. */
export const MIN_SIGNING_KEY_BITS = 4096;

/** A signer over a Node private key, for tests and development keys. */
export class NodeSigner implements Signer {
  readonly publicKey: PublicKey;
  constructor(private readonly privateKey: KeyObject) {
    this.publicKey = PublicKey.fromKeyObject(privateKey);
  }
  async signDigest(digest: Uint8Array): Promise<Uint8Array> {
    return privateEncrypt({ key: this.privateKey, padding: constants.RSA_PKCS1_PADDING }, sha512DigestInfo(digest));
  }
}

/** The SHA-512 digest snapd signs for `content` at `created` (Unix seconds). */
export function signingDigest(content: Uint8Array, created: number): { hashedPart: Buffer; digest: Buffer } {
  const hashedPart = snapdHashedPart(created);
  const digest = createHash('sha512').update(content).update(hashedPart).update(hashTrailer(hashedPart)).digest();
  return { hashedPart, digest };
}

/**
 * Signs `content` and returns the signature text exactly as snapd writes it:
 * base64 of 0x01 ‖ the signature packet, 76-character lines, each ending in `\n`.
 */
export async function signContent(content: Uint8Array, signer: Signer, signedAt: Date, minimumKeyBits = MIN_SIGNING_KEY_BITS): Promise<string> {
  if (signer.publicKey.bits < minimumKeyBits) {
    throw new AssertionError(
      'ERR_PUBLIC_KEY_INVALID',
      `cannot sign with a ${signer.publicKey.bits}-bit key: signing keys must have at least ${minimumKeyBits} bits`,
    );
  }
  const created = Math.floor(signedAt.getTime() / 1000);
  if (!Number.isFinite(created) || created < 0 || created > 0xffffffff) {
    throw new AssertionError('ERR_HEADER_INVALID', 'cannot sign: the signing time is outside the OpenPGP range');
  }
  const { hashedPart, digest } = signingDigest(content, created);
  let rsa: Uint8Array;
  try {
    rsa = await signer.signDigest(digest);
  } catch (e) {
    if (e instanceof AssertionError) throw e;
    throw new AssertionError('ERR_SIGNER_FAILED', `cannot sign: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
  const packet = writeSignaturePacket(hashedPart, digest, rsa);
  const raw = Buffer.concat([Buffer.from([FORMAT_V1]), packet]);
  return encodeBase64Lines(raw).map((l) => `${l}\n`).join('');
}

/** Decodes the signature text of an assertion (any line layout). */
export function decodeSignature(text: Uint8Array): SignaturePacket {
  const raw = decodeBase64Lines(Buffer.from(text).toString('latin1'), 'ERR_SIGNATURE_MALFORMED', 'signature');
  if (raw.length === 0) throw new AssertionError('ERR_SIGNATURE_MALFORMED', 'cannot decode signature: no data');
  if (raw[0] !== FORMAT_V1) {
    throw new AssertionError('ERR_SIGNATURE_MALFORMED', `cannot decode signature: unsupported format version ${raw[0]}`);
  }
  return readSignaturePacket(raw.subarray(1));
}

/**
 * Verifies a decoded signature over `content` with `key` as snapd does: the
 * content is hashed as it is, whatever the signature type (snapd never
 * canonicalises text), with the hash the signature names; the digest's first
 * two bytes must match the packet's; the signature's algorithm must be RSA,
 * the only kind of key snapd holds. Throws ERR_SIGNATURE_INVALID on failure.
 */
export function verifySignature(content: Buffer, sig: SignaturePacket, key: PublicKey): void {
  const fail = (why: string) =>
    new AssertionError('ERR_SIGNATURE_INVALID', `failed signature verification: ${why}`);
  const hash = HASHES[sig.hashAlgorithm] as string;
  const digest = createHash(hash).update(content).update(sig.hashedPart).update(hashTrailer(sig.hashedPart)).digest();
  if (digest[0] !== sig.left16[0] || digest[1] !== sig.left16[1]) throw fail(`hash tag doesn't match (key "${key.id}")`);
  if (sig.pubkeyAlgorithm !== PUBKEY_RSA) throw fail('public key and signature use different algorithms');
  const digestInfo = Buffer.concat([DIGEST_INFO_PREFIX[hash] as Buffer, digest]);
  if (!key.verifyDigestInfo(digestInfo, sig.signature.bytes)) {
    throw fail(`the signature does not match key "${key.id}"`);
  }
}
