import { createHash, randomBytes, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAssertion, signAssertion, signContent, type HeaderValue } from '../../src/assertions/index.js';
import { keyStoreSigner } from '../../src/keystore/keystore.js';
import { Pkcs11KeyStore } from '../../src/keystore/pkcs11/keystore.js';
import { IN_FLIGHT_PER_SIGNER } from '../../src/keystore/pkcs11/pool.js';
import { PRIVATE_KEY_POLICY, PUBLIC_KEY_POLICY } from '../../src/keystore/policy.js';
import { cleanupSoftHsm, createTestToken, softhsmRoot, type TestToken } from '../support/softhsm.js';
import { importRsaKey, withTokenSession } from '../support/token-import.js';
import { readVector } from '../support/vectors.js';
import { keyStoreContract } from './contract.js';

softhsmRoot();
// Every token this file uses exists before the module is first initialised.
const contractToken = createTestToken('contract');
const policyToken = createTestToken('policy');
const vectorToken = createTestToken('vectors');
const faultToken = createTestToken('faults');
const loadToken = createTestToken('load');

afterAll(() => cleanupSoftHsm());

keyStoreContract('PKCS#11 on a SoftHSM2 token', {
  open: () => Pkcs11KeyStore.open({ uri: contractToken.uri, signers: 2, allowDestroy: true }),
  openWithoutDestroy: () => Pkcs11KeyStore.open({ uri: contractToken.uri, signers: 1 }),
});

function findKey(p11: pkcs11js.PKCS11, session: Buffer, cls: number, label: string): Buffer {
  p11.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: cls },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  const [handle] = p11.C_FindObjects(session, 2);
  p11.C_FindObjectsFinal(session);
  if (!handle) throw new Error(`no object ${label}`);
  return handle;
}

describe('the key policy on the token', () => {
  beforeAll(async () => {
    const store = await Pkcs11KeyStore.open({ uri: policyToken.uri, signers: 1 });
    await store.generate('policy-key');
    await store.close();
  });

  it('gives the private key the attributes of the template', async () => {
    await withTokenSession(policyToken, (p11, session) => {
      const handle = findKey(p11, session, pkcs11js.CKO_PRIVATE_KEY, 'policy-key');
      const attrs = p11.C_GetAttributeValue(session, handle, PRIVATE_KEY_POLICY.map(([type]) => ({ type })));
      const actual = Object.fromEntries(attrs.map((a, i) => [PRIVATE_KEY_POLICY[i]![1], (a.value as Buffer)[0] === 1]));
      expect(actual).toEqual(Object.fromEntries(PRIVATE_KEY_POLICY.map(([, name, value]) => [name, value])));
      // Generated on the token: it was never extractable and always sensitive.
      const [always, never] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_ALWAYS_SENSITIVE }, { type: pkcs11js.CKA_NEVER_EXTRACTABLE }]);
      expect((always!.value as Buffer)[0]).toBe(1);
      expect((never!.value as Buffer)[0]).toBe(1);
    });
  });

  it('gives the public key the attributes of the template', async () => {
    await withTokenSession(policyToken, (p11, session) => {
      const handle = findKey(p11, session, pkcs11js.CKO_PUBLIC_KEY, 'policy-key');
      const attrs = p11.C_GetAttributeValue(session, handle, PUBLIC_KEY_POLICY.map(([type]) => ({ type })));
      const actual = Object.fromEntries(attrs.map((a, i) => [PUBLIC_KEY_POLICY[i]![1], (a.value as Buffer)[0] === 1]));
      expect(actual).toEqual(Object.fromEntries(PUBLIC_KEY_POLICY.map(([, name, value]) => [name, value])));
    });
  });

  it('refuses to reveal the private key', async () => {
    await withTokenSession(policyToken, (p11, session) => {
      const handle = findKey(p11, session, pkcs11js.CKO_PRIVATE_KEY, 'policy-key');
      for (const type of [pkcs11js.CKA_PRIVATE_EXPONENT, pkcs11js.CKA_PRIME_1, pkcs11js.CKA_VALUE]) {
        expect(() => p11.C_GetAttributeValue(session, handle, [{ type }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE|CKR_ATTRIBUTE_TYPE_INVALID/);
      }
    });
  });

  it('refuses to decrypt with a signing key', async () => {
    await withTokenSession(policyToken, (p11, session) => {
      const handle = findKey(p11, session, pkcs11js.CKO_PRIVATE_KEY, 'policy-key');
      expect(() => p11.C_DecryptInit(session, { mechanism: pkcs11js.CKM_RSA_PKCS }, handle)).toThrow(/CKR_KEY_FUNCTION_NOT_PERMITTED|CKR_KEY_TYPE_INCONSISTENT/);
    });
  });
});

describe('signing snapd assertions in the HSM', () => {
  let store: Pkcs11KeyStore;
  beforeAll(async () => {
    await importRsaKey(vectorToken, 'brand', readVector('generated/keys/brand.pem'));
    store = await Pkcs11KeyStore.open({ uri: vectorToken.uri, signers: 2 });
  });
  afterAll(() => store.close());

  it('gives snapd bytes for a generated vector, at its own signature time', async () => {
    const expected = readVector('generated/uc16.serial');
    const vector = decodeAssertion(expected);
    const signer = await keyStoreSigner(store, 'brand');
    expect(signer.key.keyId).toBe(vector.signKeyId);
    const signed = await signAssertion(vector.headers as Record<string, HeaderValue>, vector.body, signer, { signedAt: vector.signedAt });
    expect(signed.encode().equals(expected)).toBe(true);
  });

  it('signs every brand-signed generated model byte for byte', async () => {
    const signer = await keyStoreSigner(store, 'brand');
    for (const file of ['uc16.model', 'uc18.model', 'uc20.model', 'classic.model', 'uc22-dangerous.model']) {
      const bytes = readVector(`generated/${file}`);
      const vector = decodeAssertion(bytes);
      const text = await signContent(vector.content, signer, vector.signedAt);
      expect(Buffer.concat([vector.content, Buffer.from('\n\n'), Buffer.from(text)]).equals(bytes), file).toBe(true);
    }
  });
});

describe('faults', () => {
  it('a wrong PIN gives the login error, and it is not tried again', async () => {
    const wrong: TestToken = { ...faultToken, uri: faultToken.uri.replace(faultToken.pinFile, `${faultToken.pinFile}.wrong`) };
    const { writeFileSync, chmodSync } = await import('node:fs');
    writeFileSync(`${faultToken.pinFile}.wrong`, '0000-wrong\n');
    chmodSync(`${faultToken.pinFile}.wrong`, 0o600);
    await expect(Pkcs11KeyStore.open({ uri: wrong.uri, signers: 4 })).rejects.toMatchObject({ code: 'ERR_HSM_LOGIN_FAILED', ckr: 'CKR_PIN_INCORRECT' });
  });

  it('a PIN file readable by everyone is refused before the HSM is asked', async () => {
    const { chmodSync } = await import('node:fs');
    chmodSync(faultToken.pinFile, 0o644);
    try {
      await expect(Pkcs11KeyStore.open({ uri: faultToken.uri })).rejects.toMatchObject({ code: 'ERR_HSM_CONFIG', message: expect.stringMatching(/readable by everyone/) });
    } finally {
      chmodSync(faultToken.pinFile, 0o600);
    }
  });

  it('an unknown token label is reported as unavailable, a URI without token as a config error', async () => {
    await expect(Pkcs11KeyStore.open({ uri: faultToken.uri.replace('token=faults', 'token=nope') })).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
    await expect(Pkcs11KeyStore.open({ uri: faultToken.uri.replace('token=faults', 'object=x') })).rejects.toMatchObject({ code: 'ERR_HSM_CONFIG' });
  });

  it('a token removed and re-initialised under a running keystore gives "unavailable", then recovers', async () => {
    const events: string[] = [];
    const store = await Pkcs11KeyStore.open({ uri: faultToken.uri, signers: 2, onEvent: (e) => events.push(e.type) });
    try {
      await store.generate('before');
      faultToken.remove();
      await expect(store.signDigest('before', Buffer.alloc(64, 7))).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
      expect((await store.health()).ok).toBe(false);
      await store.settled();
      faultToken.init();
      // The keystore reconnects by itself (health checks and requests trigger it, with backoff).
      let health = await store.health();
      for (let i = 0; i < 100 && !health.ok; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await store.settled();
        health = await store.health();
      }
      expect(health).toMatchObject({ ok: true, loggedIn: true });
      const key = await store.generate('after');
      const data = randomBytes(32);
      const sig = await store.signDigest('after', createHash('sha512').update(data).digest());
      expect(verify('sha512', data, key.publicKey.toKeyObject(), sig)).toBe(true);
      expect(events).toEqual(expect.arrayContaining(['reconnecting', 'reconnected']));
    } finally {
      await store.close();
    }
  });
});

describe('concurrency', () => {
  let store: Pkcs11KeyStore;
  beforeAll(async () => {
    store = await Pkcs11KeyStore.open({ uri: loadToken.uri, signers: 4, maxQueue: 256 });
    await store.generate('load');
  });
  afterAll(() => store.close());

  it('200 concurrent signatures through 4 sessions all verify', async () => {
    const key = (await store.find('load'))!;
    const inputs = Array.from({ length: 200 }, () => randomBytes(48));
    const sigs = await Promise.all(inputs.map((d) => store.signDigest('load', createHash('sha512').update(d).digest())));
    expect(sigs.every((sig, i) => verify('sha512', inputs[i]!, key.publicKey.toKeyObject(), sig))).toBe(true);
  });

  it('with the queue full, callers get "busy" at once', async () => {
    const small = await Pkcs11KeyStore.open({ uri: loadToken.uri, signers: 1, maxQueue: 2 });
    try {
      await small.find('load');
      const order: string[] = [];
      const calls = Array.from({ length: 10 }, (_, i) =>
        small.signDigest('load', Buffer.alloc(64, i)).then(
          () => order.push('signed'),
          (e: { code: string }) => order.push(e.code),
        ),
      );
      await Promise.all(calls);
      // One signer holds IN_FLIGHT_PER_SIGNER posted jobs, two more may wait: the rest are refused.
      const accepted = IN_FLIGHT_PER_SIGNER + 2;
      expect(order.filter((o) => o === 'signed')).toHaveLength(accepted);
      expect(order.filter((o) => o === 'ERR_HSM_BUSY')).toHaveLength(10 - accepted);
      // Every refusal came before the first signature finished.
      expect(order.slice(0, 10 - accepted)).toEqual(Array(10 - accepted).fill('ERR_HSM_BUSY'));
    } finally {
      await small.close();
    }
  });
});
