import { describe, expect, it } from 'vitest';
import { NodeSigner, TrustDatabase, decodeAssertion, signAssertion, type Assertion, type HeaderValue } from '../../src/assertions/index.js';
import { decodeVector, generatedKey, headersInput, readVector, roots } from '../support/vectors.js';

const trusted = () => roots('generated/root.trusted.assert');
const chain = () => [...decodeVector('generated/brand-chain.assert'), ...decodeVector('generated/vault-chain.assert')];

async function vaultSerial(overrides: Record<string, HeaderValue>): Promise<Assertion> {
  return signAssertion(
    { ...headersInput('serial-uc20-vault.json'), ...overrides },
    undefined,
    new NodeSigner(generatedKey('vault').privateKey),
    { signedAt: new Date('2024-01-03T00:00:00Z') },
  );
}

describe('the trust database', () => {
  it('accepts a serial from a serial-authority once its model is known', () => {
    const db = new TrustDatabase({ trusted: trusted() });
    const serial = decodeAssertion(readVector('generated/uc20-vault.serial'));
    const results = db.addBatch([serial, ...chain()]);
    expect(results[0]?.error).toMatchObject({ code: 'ERR_PREREQUISITE_MISSING' });
    db.add(decodeAssertion(readVector('generated/uc20-vault.model')));
    expect(db.check(serial)).toEqual({ ok: true });
  });

  it('refuses a serial timestamped outside its signing key validity', async () => {
    const db = new TrustDatabase({ trusted: trusted() });
    db.addBatch([...chain(), decodeAssertion(readVector('generated/uc20-vault.model'))]);
    const late = await vaultSerial({ timestamp: '2035-01-01T00:00:00Z' });
    expect(db.check(late)).toMatchObject({ ok: false, error: { code: 'ERR_KEY_NOT_VALID', header: 'timestamp' } });
  });

  it('refuses anything signed by a key that has expired by now', () => {
    const db = new TrustDatabase({ trusted: trusted(), now: () => new Date('2040-01-01T00:00:00Z') });
    const results = db.addBatch([...chain(), decodeAssertion(readVector('generated/uc20-vault.model')), decodeAssertion(readVector('generated/uc20-vault.serial'))]);
    expect(results.at(-1)?.error).toMatchObject({ code: 'ERR_KEY_NOT_VALID', header: 'sign-key-sha3-384' });
    expect(results.at(-1)?.error?.message).toMatch(/expired public key/);
  });

  it('refuses an account signed by an authority that is not a trusted root', async () => {
    const db = new TrustDatabase({ trusted: trusted() });
    db.addBatch(chain());
    const account = await signAssertion(
      { type: 'account', 'authority-id': 'test-brand', 'account-id': 'reseller', 'display-name': 'Reseller', validation: 'unproven', timestamp: '2024-01-03T00:00:00Z' },
      undefined,
      new NodeSigner(generatedKey('brand').privateKey),
    );
    expect(db.check(account)).toMatchObject({ ok: false, error: { code: 'ERR_AUTHORITY_NOT_ALLOWED' } });
  });

  it('refuses an account-key whose account is unknown', () => {
    const db = new TrustDatabase({ trusted: trusted() });
    expect(db.check(decodeAssertion(readVector('generated/brand.account-key')))).toMatchObject({
      ok: false,
      error: { code: 'ERR_PREREQUISITE_MISSING', message: expect.stringMatching(/does not have a matching account assertion/) },
    });
  });

  it('keeps the newest revision and refuses an older one', async () => {
    const db = new TrustDatabase({ trusted: trusted() });
    db.addBatch(chain());
    const model = decodeAssertion(readVector('generated/uc16.model'));
    db.add(model);
    const newer = await signAssertion({ ...(model.headers as Record<string, HeaderValue>), revision: '2' }, undefined, new NodeSigner(generatedKey('brand').privateKey));
    db.add(newer);
    expect(db.find('model', ['16', 'test-brand', 'test-uc16'])?.revision).toBe(2);
    expect(() => db.add(model)).toThrow(expect.objectContaining({ code: 'ERR_REVISION_CONFLICT' }));
    db.add(newer); // the same assertion again is not an error
  });

  it('verifies a serial-request against its own device key', () => {
    const db = new TrustDatabase({ trusted: trusted() });
    const [request] = decodeVector('generated/uc16-registration-body.assert');
    expect(db.check(request!)).toEqual({ ok: true });
  });

  it('trusts only account and account-key assertions as roots', () => {
    expect(() => new TrustDatabase({ trusted: [decodeAssertion(readVector('generated/uc16.model'))] })).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHORITY_NOT_ALLOWED' }),
    );
  });
});
