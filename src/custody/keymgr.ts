import { SHA512_DIGEST_INFO_PREFIX } from '../assertions/index.js';
import { CustodyError } from './errors.js';

/**
 * snapd's external key manager protocol, the vault's side of it. `snap sign`
 * (and anything else built on snapd's asserts package) runs the program
 * named by SNAPD_EXT_KEYMGR once per step, with these subcommands:
 *
 *   features                       JSON {"signing":[…],"public-keys":[…]}
 *   key-names                      JSON {"key-names":[…]}
 *   get-public-key -f DER -k NAME  the key's DER SubjectPublicKeyInfo, raw
 *   sign -m RSA-PKCS -k NAME       stdin: DigestInfo(SHA-512) ‖ digest;
 *                                  stdout: the raw RSA PKCS#1 v1.5 signature
 *
 * and treats a non-zero exit as failure, quoting stderr. snapd reads every
 * name `key-names` lists and gives up on the first it cannot load, so the
 * list must hold only keys `get-public-key` answers for.
 */

/** What the protocol needs of the vault: a narrow view of its signing keys. */
export interface KeymgrKeys {
  /** The names of the keys the caller may sign with. */
  names(): Promise<string[]>;
  /** The key's public half as DER SubjectPublicKeyInfo, or undefined when the vault offers no key of that name. */
  publicKeyDer(name: string): Promise<Buffer | undefined>;
  /** RSA PKCS#1 v1.5 over DigestInfo(SHA-512) ‖ `sha512Digest`, refused when the caller may not sign with it. */
  sign(name: string, sha512Digest: Uint8Array): Promise<Uint8Array>;
}

/** The one mechanism and the one public key format snapd's RSA-PKCS path needs. */
export const KEYMGR_MECHANISM = 'RSA-PKCS';
export const KEYMGR_PUBLIC_KEY_FORMAT = 'DER';

const SHA512_BYTES = 64;

const json = (v: unknown): Buffer => Buffer.from(`${JSON.stringify(v)}\n`);

/** `features`: what snapd checks before anything else. OPENPGP signing is left out on purpose: snapd then prepares the digest itself. */
export function features(): Buffer {
  return json({ signing: [KEYMGR_MECHANISM], 'public-keys': [KEYMGR_PUBLIC_KEY_FORMAT] });
}

export async function keyNames(keys: KeymgrKeys): Promise<Buffer> {
  return json({ 'key-names': await keys.names() });
}

export function unknownKey(name: string): CustodyError {
  return new CustodyError('ERR_KEYMGR_KEY_UNKNOWN', `no usable key named ${JSON.stringify(name)} in the vault: serial-vault keymgr key-names lists them`);
}

function checkName(name: string): string {
  if (name === '') throw new CustodyError('ERR_KEYMGR_INPUT_INVALID', 'cannot use an empty key name: serial-vault keymgr key-names lists the names');
  return name;
}

/** A checked `get-public-key` request. */
export interface PublicKeyRequest {
  readonly name: string;
}

/** A checked `sign` request: the key and the SHA-512 digest to sign. */
export interface SignRequest {
  readonly name: string;
  readonly digest: Uint8Array;
}

/** `get-public-key -f FORMAT -k NAME`, checked before the vault is opened. */
export function parsePublicKeyRequest(options: { readonly format: string; readonly key: string }): PublicKeyRequest {
  if (options.format !== KEYMGR_PUBLIC_KEY_FORMAT) {
    throw new CustodyError('ERR_KEYMGR_UNSUPPORTED', `cannot export a public key as ${JSON.stringify(options.format)}: the vault gives ${KEYMGR_PUBLIC_KEY_FORMAT} only`);
  }
  return { name: checkName(options.key) };
}

/**
 * `sign -m MECHANISM -k NAME` with its standard input, checked before the
 * vault is opened: the input must be the DigestInfo(SHA-512) prefix and
 * exactly 64 bytes, so the HSM never signs a DigestInfo for another hash
 * or bytes of the caller's choosing.
 */
export function parseSignRequest(options: { readonly mechanism: string; readonly key: string }, input: Uint8Array): SignRequest {
  if (options.mechanism !== KEYMGR_MECHANISM) {
    throw new CustodyError('ERR_KEYMGR_UNSUPPORTED', `cannot sign with mechanism ${JSON.stringify(options.mechanism)}: the vault signs with ${KEYMGR_MECHANISM} only`);
  }
  const name = checkName(options.key);
  const prefix = SHA512_DIGEST_INFO_PREFIX;
  const expected = prefix.length + SHA512_BYTES;
  if (input.length !== expected) {
    throw new CustodyError('ERR_KEYMGR_INPUT_INVALID', `cannot sign ${input.length} bytes: sign expects ${expected} on standard input, the DigestInfo(SHA-512) prefix and a 64-byte digest`);
  }
  if (!Buffer.from(input.subarray(0, prefix.length)).equals(prefix)) {
    throw new CustodyError('ERR_KEYMGR_INPUT_INVALID', 'cannot sign: the input does not start with the DigestInfo(SHA-512) prefix');
  }
  return { name, digest: input.slice(prefix.length) };
}

/** `get-public-key`'s answer: the raw DER, no framing. */
export async function publicKey(keys: KeymgrKeys, request: PublicKeyRequest): Promise<Buffer> {
  const der = await keys.publicKeyDer(request.name);
  if (!der) throw unknownKey(request.name);
  return der;
}

/** `sign`'s answer: the raw signature, as long as the modulus. */
export async function sign(keys: KeymgrKeys, request: SignRequest): Promise<Buffer> {
  return Buffer.from(await keys.sign(request.name, request.digest));
}
