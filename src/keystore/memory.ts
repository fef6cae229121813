import { constants, generateKeyPair, privateEncrypt, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { PublicKey } from '../assertions/index.js';
import { KeyStoreError } from './errors.js';
import { checkLabel, describeRef, idForLabel, parseKeyRef, type KeyRef } from './key-ref.js';
import { digestInfo, type KeyInfo, type KeyStore, type KeyStoreHealth } from './keystore.js';
import { RSA_BITS } from './policy.js';

const generate = promisify(generateKeyPair);

interface Entry {
  readonly info: KeyInfo;
  readonly privateKey: KeyObject;
}

export interface MemoryKeyStoreOptions {
  /** Smaller keys make unit tests fast; anything signing real assertions uses 4096. */
  readonly bits?: number;
  readonly allowDestroy?: boolean;
}

/**
 * Keys in process memory, for fast unit tests only. Production configuration
 * refuses it (see `createKeyStore`): the vault's promise is that private keys
 * never exist outside an HSM.
 */
export class MemoryKeyStore implements KeyStore {
  private readonly keys = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly options: MemoryKeyStoreOptions = {}) {}

  /** Adds an existing key (tests only), as importing into a test token does. */
  add(label: string, privateKey: KeyObject): KeyInfo {
    this.open();
    checkLabel(label);
    if (this.keys.has(label)) throw new KeyStoreError('ERR_KEY_EXISTS', `a key labelled "${label}" already exists`);
    const publicKey = PublicKey.fromKeyObject(privateKey);
    const info: KeyInfo = { label, id: idForLabel(label).toString('hex'), publicKey, keyId: publicKey.id, bits: publicKey.bits };
    this.keys.set(label, { info, privateKey });
    return info;
  }

  async generate(label: string): Promise<KeyInfo> {
    this.open();
    checkLabel(label);
    if (this.keys.has(label)) throw new KeyStoreError('ERR_KEY_EXISTS', `a key labelled "${label}" already exists`);
    const { privateKey } = await generate('rsa', { modulusLength: this.options.bits ?? RSA_BITS, publicExponent: 65537 });
    if (this.keys.has(label)) throw new KeyStoreError('ERR_KEY_EXISTS', `a key labelled "${label}" already exists`);
    return this.add(label, privateKey);
  }

  private lookup(ref: KeyRef): Entry | undefined {
    for (const entry of this.keys.values()) {
      if (ref.label !== undefined && entry.info.label !== ref.label) continue;
      if (ref.id !== undefined && entry.info.id !== ref.id.toString('hex')) continue;
      return entry;
    }
    return undefined;
  }

  async find(ref: string): Promise<KeyInfo | undefined> {
    this.open();
    return this.lookup(parseKeyRef(ref))?.info;
  }

  async list(): Promise<KeyInfo[]> {
    this.open();
    return [...this.keys.values()].map((e) => e.info).sort((a, b) => a.label.localeCompare(b.label));
  }

  async signDigest(ref: string, digest: Uint8Array): Promise<Uint8Array> {
    this.open();
    const parsed = parseKeyRef(ref);
    const entry = this.lookup(parsed);
    if (!entry) throw new KeyStoreError('ERR_KEY_NOT_FOUND', `no key ${describeRef(parsed)} in the keystore`);
    return privateEncrypt({ key: entry.privateKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo(digest));
  }

  async destroy(ref: string): Promise<void> {
    this.open();
    if (!this.options.allowDestroy) throw new KeyStoreError('ERR_HSM_NOT_PERMITTED', 'destroying keys is not allowed by the keystore policy');
    const parsed = parseKeyRef(ref);
    const entry = this.lookup(parsed);
    if (!entry) throw new KeyStoreError('ERR_KEY_NOT_FOUND', `no key ${describeRef(parsed)} in the keystore`);
    this.keys.delete(entry.info.label);
  }

  async health(): Promise<KeyStoreHealth> {
    return { ok: !this.closed, backend: 'memory', moduleLoaded: true, tokenPresent: true, loggedIn: !this.closed, signers: 1, busy: 0, queued: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private open(): void {
    if (this.closed) throw new KeyStoreError('ERR_HSM_UNAVAILABLE', 'the keystore is closed');
  }
}
