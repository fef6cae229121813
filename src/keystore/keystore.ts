import type { PublicKey, Signer } from '../assertions/index.js';
import { sha512DigestInfo } from '../assertions/index.js';
import { KeyStoreError } from './errors.js';

/** A key pair held by a keystore, described by its public half only. */
export interface KeyInfo {
  /** `CKA_LABEL`. */
  readonly label: string;
  /** `CKA_ID`, hex. */
  readonly id: string;
  readonly publicKey: PublicKey;
  /** snapd's key id (`sign-key-sha3-384`). */
  readonly keyId: string;
  readonly bits: number;
}

export interface KeyStoreHealth {
  readonly ok: boolean;
  readonly backend: 'pkcs11' | 'memory';
  readonly moduleLoaded: boolean;
  readonly tokenPresent: boolean;
  readonly loggedIn: boolean;
  readonly token?: { readonly label: string; readonly serial: string; readonly manufacturer: string; readonly model: string };
  readonly signers: number;
  readonly busy: number;
  readonly queued: number;
  /** Why not ok, in words an operator can act on. */
  readonly problem?: string;
}

/**
 * Where private keys live. Keys are named by a reference: a label, or a
 * PKCS#11 URI with `object=` or `id=`. Signing takes the SHA-512 digest that
 * snapd signs and returns the RSA PKCS#1 v1.5 signature of its DigestInfo.
 */
export interface KeyStore {
  /** Generates an RSA-4096 key pair under the key policy. */
  generate(label: string): Promise<KeyInfo>;
  /** The key, or undefined when there is none. */
  find(ref: string): Promise<KeyInfo | undefined>;
  list(): Promise<KeyInfo[]>;
  /** RSA PKCS#1 v1.5 over DigestInfo(SHA-512) ‖ digest (`CKM_RSA_PKCS`). */
  signDigest(ref: string, digest: Uint8Array): Promise<Uint8Array>;
  /** Destroys a key pair, where the configured policy allows it. */
  destroy(ref: string): Promise<void>;
  health(): Promise<KeyStoreHealth>;
  /** Finishes in-flight operations and releases sessions and the module. */
  close(): Promise<void>;
  /** How loaded the signers are right now, for metrics (cheap, no HSM call). */
  load?(): { readonly signers: number; readonly busy: number; readonly queued: number };
  /** Whether the token holding `ref` is up, as last seen (cheap, no HSM call); absent means always. */
  isAvailable?(ref: string): boolean;
  /** With several tokens: each one and whether it is in rotation (no HSM call). */
  tokens?(): ReadonlyArray<{ readonly label: string; readonly ok: boolean; readonly problem?: string }>;
  /** With several tokens: generates the key pair on the token with this label. */
  generateOn?(token: string, label: string): Promise<KeyInfo>;
}

/** The assertion codec's `Signer` for one key of a keystore. */
export async function keyStoreSigner(store: KeyStore, ref: string): Promise<Signer & { readonly key: KeyInfo }> {
  const key = await store.find(ref);
  if (!key) throw new KeyStoreError('ERR_KEY_NOT_FOUND', `no key ${JSON.stringify(ref)} in the keystore`);
  return {
    key,
    publicKey: key.publicKey,
    signDigest: (digest) => store.signDigest(ref, digest),
  };
}

/** DigestInfo for a SHA-512 digest, checked: what every backend signs. */
export function digestInfo(digest: Uint8Array): Buffer {
  return sha512DigestInfo(digest);
}
