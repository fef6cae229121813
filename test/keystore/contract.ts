import { createHash, randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrustDatabase, signAssertion } from '../../src/assertions/index.js';
import { keyStoreSigner, type KeyStore } from '../../src/keystore/keystore.js';
import { headersInput } from '../support/vectors.js';

export interface ContractTarget {
  /** A fresh, empty keystore that allows destroying keys. */
  open(): Promise<KeyStore>;
  /** A keystore over the same keys that does not allow destroying them. */
  openWithoutDestroy(): Promise<KeyStore>;
}

/** What every KeyStore backend must do, run against each of them. */
export function keyStoreContract(name: string, target: ContractTarget): void {
  describe(`KeyStore contract: ${name}`, () => {
    let store: KeyStore;
    beforeAll(async () => {
      store = await target.open();
    });
    afterAll(async () => {
      await store?.close();
    });

    it('generates an RSA-4096 key and describes it by label, id and snapd key id', async () => {
      const key = await store.generate('contract-a');
      expect(key.label).toBe('contract-a');
      expect(key.bits).toBe(4096);
      expect(key.keyId).toBe(key.publicKey.id);
      expect(key.keyId).toMatch(/^[A-Za-z0-9_-]{64}$/);
      expect(key.id).toMatch(/^[0-9a-f]+$/);
    });

    it('refuses a second key with the same label', async () => {
      await expect(store.generate('contract-a')).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
    });

    it('refuses labels that are not plain names', async () => {
      await expect(store.generate('has space')).rejects.toMatchObject({ code: 'ERR_HSM_CONFIG' });
    });

    it('finds a key by label and by PKCS#11 URI, and says when there is none', async () => {
      const key = await store.find('contract-a');
      expect(key?.keyId).toBeDefined();
      expect((await store.find('pkcs11:object=contract-a'))?.keyId).toBe(key?.keyId);
      expect((await store.find(`pkcs11:id=${key!.id.replace(/(..)/g, '%$1')}`))?.keyId).toBe(key?.keyId);
      expect(await store.find('no-such-key')).toBeUndefined();
    });

    it('lists its keys', async () => {
      await store.generate('contract-b');
      const labels = (await store.list()).map((k) => k.label);
      expect(labels).toEqual(expect.arrayContaining(['contract-a', 'contract-b']));
    });

    it('signs a SHA-512 digest as RSA PKCS#1 v1.5 that verifies with the public key', async () => {
      const data = randomBytes(100);
      const digest = createHash('sha512').update(data).digest();
      const sig = await store.signDigest('contract-a', digest);
      const key = await store.find('contract-a');
      expect(verify('sha512', data, key!.publicKey.toKeyObject(), sig)).toBe(true);
    });

    it('refuses to sign with an unknown key', async () => {
      await expect(store.signDigest('no-such-key', Buffer.alloc(64))).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    });

    it('signs assertions the codec verifies, as a Signer', async () => {
      const signer = await keyStoreSigner(store, 'contract-a');
      // The key acts as a local root: it signs its own account and account-key, then a serial.
      const since = '2024-01-01T00:00:00Z';
      const account = await signAssertion(
        { type: 'account', 'authority-id': 'contract-root', 'account-id': 'contract-root', 'display-name': 'Contract', validation: 'verified', timestamp: since },
        undefined,
        signer,
      );
      const accountKey = await signAssertion(
        { type: 'account-key', 'authority-id': 'contract-root', 'account-id': 'contract-root', name: 'root', since, 'public-key-sha3-384': signer.key.keyId },
        Buffer.from(signer.publicKey.encoded),
        signer,
      );
      const serial = await signAssertion(
        { ...headersInput('serial-uc16.json'), 'authority-id': 'contract-root', 'brand-id': 'contract-root' },
        undefined,
        signer,
      );
      const db = new TrustDatabase({ trusted: [account, accountKey] });
      expect(db.check(serial)).toEqual({ ok: true });
    });

    it('refuses to destroy keys when the policy does not allow it', async () => {
      const guarded = await target.openWithoutDestroy();
      try {
        await expect(guarded.destroy('contract-b')).rejects.toMatchObject({ code: 'ERR_HSM_NOT_PERMITTED' });
      } finally {
        await guarded.close();
      }
    });

    it('destroys a key where the policy allows it', async () => {
      await store.destroy('contract-b');
      expect(await store.find('contract-b')).toBeUndefined();
      await expect(store.destroy('contract-b')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    });

    it('reports health', async () => {
      const health = await store.health();
      expect(health).toMatchObject({ ok: true, moduleLoaded: true, tokenPresent: true, loggedIn: true });
    });

    it('refuses work once closed', async () => {
      const other = await target.open();
      await other.close();
      await expect(other.signDigest('contract-a', Buffer.alloc(64))).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
    });
  });
}
