import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { TrustDatabase, formatRfc3339, signAssertion, type Assertion } from '../../src/assertions/index.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { exportChain } from '../../src/custody/chain-export.js';
import { keyStoreSigner } from '../../src/keystore/keystore.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

const SERIALS = 'brand-demo-brand-serials';

/**
 * Revoking a key stops its use at once and for good, restarts included. In
 * the local setup the authority re-issues the account-key with `until`, and
 * what the codec then says of serials from before and after `until` is what
 * snapd's asserts database says: a key is checked at the current time
 * (CheckSignature) and at the assertion's timestamp
 * (CheckTimestampVsSigningKeyValidity).
 */
describe('revoking a serials key', () => {
  const dir = testDataDir();
  let tv: TestVault;
  let keys: KeyObject[];
  let seed: Assertion[];
  let before: Assertion;
  let until: Date;

  const register = (tvault: TestVault, key: KeyObject) =>
    registerDevice({ url: tvault.url, headers: { 'api-key': tvault.apiKey }, model: tvault.model, trusted: tvault.trusted, seed, deviceKey: key, pollAttempts: 0 });

  beforeAll(async () => {
    tv = await startTestVault(dir, 'sqlite');
    keys = await deviceKeys(5);
    seed = await tv.vault.custody.brandChain('demo-brand', tv.model.signKeyId);
    before = (await register(tv, keys[0]!)).serial;
  }, 120_000);

  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  it('re-issues the account-key with until, signed by the local authority, and stops signing at once', async () => {
    const outcome = await tv.vault.ceremonies.request(OPERATOR, 'key.revoke', { brand: 'demo-brand', key: SERIALS });
    expect(outcome.outcome).toBe('executed');
    const accountKey = (await tv.vault.custody.assertions.get('account-key', [before.signKeyId]))!;
    expect(accountKey.revision).toBe(1);
    expect(accountKey.authorityId).toBe('demo-root');
    until = new Date(accountKey.headerString('until'));
    expect(until.getTime()).toBeGreaterThan(Date.parse(before.headerString('timestamp')));
    await expect(register(tv, keys[1]!)).rejects.toThrow(/no key may sign serials for this model now/);
  });

  it('never uses the revoked key after a restart, and says so in the key health report', async () => {
    await tv.close();
    tv = await startTestVault(dir, 'sqlite');
    await expect(register(tv, keys[1]!)).rejects.toThrow(/no key may sign serials for this model now/);
    const findings = await tv.vault.keyHealth();
    expect(findings).toContainEqual(expect.objectContaining({ kind: 'model-without-key', brand: 'demo-brand', subject: 'demo-model' }));
    // A rotation needs a key in use; a new key and the model moved onto it bring registration back.
    await expect(tv.vault.ceremonies.request(OPERATOR, 'key.rotate', { brand: 'demo-brand', purpose: 'serials', key: SERIALS })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ACTIVE' });
    const made = await tv.vault.ceremonies.request(OPERATOR, 'key.create', { brand: 'demo-brand', purpose: 'serials' });
    if (made.outcome !== 'executed') throw new Error('expected the key to be made at once (no officers yet)');
    const label = (made.result as { key: { label: string } }).key.label;
    await tv.vault.ceremonies.request(OPERATOR, 'model.signing-key', { brand: 'demo-brand', model: 'demo-model', key: label });
    const after = await register(tv, keys[2]!);
    expect(after.serial.signKeyId).not.toBe(before.signKeyId);
  }, 120_000);

  it('revokes a key scheduled to take over later, and the key it was to replace goes on signing', async () => {
    const brand = (await tv.vault.custody.brands.byAccountId('demo-brand'))!;
    const inUse = (await tv.vault.custody.keys.ofBrand(brand.id)).find((k) => k.purpose === 'serials' && k.state === 'active' && k.until === undefined)!;
    const later = new Date(Date.now() + 3600_000);
    const rotated = await tv.vault.ceremonies.request(OPERATOR, 'key.rotate', { brand: 'demo-brand', purpose: 'serials', key: inUse.label, at: later.toISOString() });
    if (rotated.outcome !== 'executed') throw new Error('expected the rotation to run at once (no officers yet)');
    const next = (rotated.result as { key: { label: string; keyId: string } }).key;
    await tv.vault.ceremonies.request(OPERATOR, 'key.revoke', { brand: 'demo-brand', key: next.label });
    const reissued = (await tv.vault.custody.assertions.get('account-key', [next.keyId]))!;
    expect(reissued.headerString('until')).toBe(reissued.headerString('since'));
    expect(await tv.vault.custody.keys.byLabel(inUse.label)).toMatchObject({ until: undefined, replacedBy: undefined });
    expect((await register(tv, keys[3]!)).serial.signKeyId).toBe(inUse.keyId);
    // And it can be rotated again.
    expect(() => tv.vault.custody.lifecycle.checkRotatable(inUse)).not.toThrow();
  }, 60_000);

  describe('the codec’s verdicts, as snapd decides', () => {
    const trustAt = async (now: Date) => {
      const brand = (await tv.vault.custody.brands.byAccountId('demo-brand'))!;
      const db = new TrustDatabase({ trusted: tv.trusted, now: () => now });
      db.addBatch([...(await exportChain(tv.vault.custody, brand, now)).assertions]);
      return db;
    };
    /** A serial the revoked key signs with a timestamp after until: what a thief holding the key would make. */
    const forged = async () => {
      const { 'sign-key-sha3-384': _key, 'body-length': _length, ...headers } = before.headers as Record<string, string>;
      return signAssertion({ ...headers, serial: 'FORGED-1', timestamp: formatRfc3339(new Date(until.getTime() + 60_000)) }, before.body, await keyStoreSigner(tv.vault.keystore, SERIALS));
    };

    it('accepts a serial signed before until while the current time is before until', async () => {
      expect((await trustAt(new Date(until.getTime() - 1000))).check(before)).toMatchObject({ ok: true });
    });

    it('refuses every serial of the key once the current time is past until (the key has expired)', async () => {
      const verdict = (await trustAt(new Date(until.getTime() + 1000))).check(before);
      expect(verdict).toMatchObject({ ok: false, error: { code: 'ERR_KEY_NOT_VALID' } });
      expect(verdict.ok ? '' : verdict.error.message).toMatch(/signed with expired public key/);
    });

    it('refuses a serial whose timestamp is at or after until, even while the current time is before it', async () => {
      const serial = await forged();
      const verdict = (await trustAt(new Date(until.getTime() - 1000))).check(serial);
      expect(verdict).toMatchObject({ ok: false, error: { code: 'ERR_KEY_NOT_VALID' } });
      expect(verdict.ok ? '' : verdict.error.message).toMatch(/outside the signing key's validity/);
    });
  });
});
