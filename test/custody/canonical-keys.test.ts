import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAssertion, formatRfc3339, signAssertion, type Assertion, type HeaderValue, type Signer } from '../../src/assertions/index.js';
import { keyStoreSigner } from '../../src/keystore/keystore.js';
import { cli } from '../support/cli.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

/**
 * A brand in the canonical setup: its keys are registered by Canonical, so
 * a new key waits as an account-key-request until Canonical's account-key
 * comes back. The import checks that it is for this key, this brand and
 * this purpose (serial-vault #220), and refuses anything else by code.
 * "Canonical" here is a root made in the test's HSM and trusted like
 * Canonical's, but not one of the vault's own authorities.
 */
describe('keys of a brand in the canonical setup', () => {
  const dir = testDataDir();
  let tv: TestVault;
  let canonical: Signer & { key: { keyId: string } };
  let request: Assertion;
  let pendingLabel: string;

  const account = (id: string) => signAssertion({ type: 'account', 'authority-id': 'canonical-test', 'account-id': id, 'display-name': id, validation: 'verified', timestamp: formatRfc3339(new Date()) }, undefined, canonical);
  /** What Canonical answers a request with: an account-key it signed, here with changes a test asks for. */
  const accountKeyFor = (req: Assertion, changes: Record<string, HeaderValue> = {}, body: Buffer | undefined = req.body) =>
    signAssertion(
      { type: 'account-key', 'authority-id': 'canonical-test', 'account-id': req.headerString('account-id'), name: req.headerString('name'), since: req.headerString('since'), 'public-key-sha3-384': req.headerString('public-key-sha3-384'), ...changes },
      body,
      canonical,
    );
  /** Signs as "Canonical" with the test root in the HSM, the vault open only meanwhile (the command line opens it next). */
  const asCanonical = async <T>(work: () => Promise<T>): Promise<T> => {
    tv = await startTestVault(dir, 'sqlite');
    try {
      canonical = await keyStoreSigner(tv.vault.keystore, 'canonical-test-root');
      return await work();
    } finally {
      await tv.close();
    }
  };
  const importFile = async (a: Assertion) => {
    const file = join(dir, `account-key-${Math.random().toString(36).slice(2)}.assert`);
    writeFileSync(file, a.encode());
    return cli('key', 'import-account-key', file, '--data-dir', dir);
  };

  beforeAll(async () => {
    tv = await startTestVault(dir, 'sqlite');
    const { keystore, custody } = tv.vault;
    await keystore.generate('canonical-test-root');
    canonical = await keyStoreSigner(keystore, 'canonical-test-root');
    const root = await signAssertion({ type: 'account', 'authority-id': 'canonical-test', 'account-id': 'canonical-test', 'display-name': 'Canonical (test)', validation: 'verified', timestamp: formatRfc3339(new Date()) }, undefined, canonical);
    const rootKey = await signAssertion({ type: 'account-key', 'authority-id': 'canonical-test', 'account-id': 'canonical-test', name: 'root', since: formatRfc3339(new Date(Date.now() - 60_000)), 'public-key-sha3-384': canonical.key.keyId }, Buffer.from(canonical.publicKey.encoded), canonical);
    await custody.authorities.trustRoot(root, rootKey);
    for (const brand of ['acme', 'other']) {
      const label = `brand-${brand}-serials`;
      const info = await keystore.generate(label);
      const signer = await keyStoreSigner(keystore, label);
      const key = await signAssertion({ type: 'account-key', 'authority-id': 'canonical-test', 'account-id': brand, name: 'serials', since: formatRfc3339(new Date(Date.now() - 60_000)), 'public-key-sha3-384': info.keyId }, Buffer.from(signer.publicKey.encoded), canonical);
      await custody.importBrand(await account(brand), key, label);
    }
    await tv.close();
  }, 120_000);

  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  it('writes an account-key-request for a new key and keeps the key pending', async () => {
    const made = await cli('key', 'create', '--brand', 'acme', '--purpose', 'models', '--data-dir', dir, '--json');
    expect(made.code).toBe(0);
    const result = (JSON.parse(made.stdout) as { result: { key: { label: string; state: string }; accountKeyRequest: string } }).result;
    expect(result.key.state).toBe('pending');
    pendingLabel = result.key.label;
    const printed = await cli('key', 'request', pendingLabel, '--brand', 'acme', '--data-dir', dir);
    request = decodeAssertion(Buffer.from(printed.stdout));
    expect(request.type).toBe('account-key-request');
    expect(request.headerString('account-id')).toBe('acme');
    expect(request.headerString('name')).toBe('models');
    // Self-signed by the new key, as snapcraft register-key sends it.
    expect(request.signKeyId).toBe(request.headerString('public-key-sha3-384'));
    const health = await cli('key', 'health', '--brand', 'acme', '--data-dir', dir);
    expect(health.code).toBe(1);
    expect(health.stdout).toMatch(new RegExp(`account-key-awaited: key "${pendingLabel}" awaits its account-key`));
  });

  it('refuses a pending key for rotation', async () => {
    const r = await cli('key', 'rotate', '--brand', 'acme', '--purpose', 'models', '--key', pendingLabel, '--data-dir', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is pending: only a key in use can be rotated \[ERR_KEY_NOT_ACTIVE\]/);
  });

  it('refuses an account-key for a key that is not this vault’s', async () => {
    const foreign = await asCanonical(async () => {
      await tv.vault.keystore.generate('stray');
      const stray = await keyStoreSigner(tv.vault.keystore, 'stray');
      return accountKeyFor(request, { 'public-key-sha3-384': stray.key.keyId }, Buffer.from(stray.publicKey.encoded));
    });
    const r = await importFile(foreign);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/registers key .*, which is not a key of this vault.*\[ERR_ACCOUNT_KEY_OTHER_KEY\]/);
  });

  it('refuses an account-key that registers the key for another brand', async () => {
    const r = await importFile(await asCanonical(() => accountKeyFor(request, { 'account-id': 'other' })));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is for account "other", but key ".*" belongs to brand "acme".*\[ERR_ACCOUNT_KEY_OTHER_BRAND\]/);
  });

  it('refuses an account-key whose constraints do not allow what the key is for', async () => {
    const constrained = await asCanonical(() => accountKeyFor(request, { format: '1', constraints: [{ headers: { type: 'serial' } }] }));
    const r = await importFile(constrained);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/constraints do not let key ".*" sign model assertions.*\[ERR_ACCOUNT_KEY_CONSTRAINED\]/);
  });

  it('activates the key with Canonical’s account-key, and signs models with it', async () => {
    const good = await asCanonical(() => accountKeyFor(request));
    const r = await importFile(good);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`key ${pendingLabel} is active from`));
    const again = await importFile(good);
    expect(again.stderr).toMatch(/\[ERR_KEY_NOT_PENDING\]/);
    tv = await startTestVault(dir, 'sqlite');
    const model = await tv.vault.models.createModel({ 'brand-id': 'acme', model: 'widget', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel' }, { checkCatalog: false });
    const signed = await tv.vault.models.assertion(model);
    expect(signed.signKeyId).toBe(request.headerString('public-key-sha3-384'));
    expect((await tv.vault.custody.trust()).check(signed)).toMatchObject({ ok: true });
  });
});
