import { createHash, generateKeyPairSync } from 'node:crypto';
import { copyFileSync, createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../support/cli.js';
import { catalogRefusal } from '../support/refusal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { NodeSigner, TrustDatabase, encodeStream, formatRfc3339, signAssertion, type Assertion } from '../../src/assertions/index.js';
import { buildSnap } from '../support/snaps.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

/**
 * The canonical trust setup: a root the vault does not hold (standing in
 * for Canonical's, whose key nobody here has) signs the brand's account and
 * account-key and the snap-declarations. The vault signs a snap-revision
 * only where a declaration delegates it to the brand.
 */
describe('the canonical trust setup', () => {
  let dir: string;
  let tv: TestVault;
  const root = new NodeSigner(generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey);
  const now = () => formatRfc3339(new Date());
  let roots: Assertion[];

  const declaration = (snapId: string, name: string, extra: Record<string, unknown> = {}) =>
    signAssertion({ type: 'snap-declaration', 'authority-id': 'fakecanonical', series: '16', 'snap-id': snapId, 'snap-name': name, 'publisher-id': 'acme', timestamp: now(), ...extra } as never, undefined, root);

  const refusal = catalogRefusal;

  beforeAll(async () => {
    dir = testDataDir();
    tv = await startTestVault(dir, 'sqlite');
    const { custody, keystore } = tv.vault;
    // One instant for both: the root's account must fall inside its key's validity, and a second can tick over between two signatures.
    const rootSince = now();
    const rootAccount = await signAssertion({ type: 'account', 'authority-id': 'fakecanonical', 'account-id': 'fakecanonical', 'display-name': 'Root', validation: 'verified', timestamp: rootSince }, undefined, root);
    const rootKey = await signAssertion({ type: 'account-key', 'authority-id': 'fakecanonical', 'account-id': 'fakecanonical', name: 'root', since: rootSince, 'public-key-sha3-384': root.publicKey.id }, Buffer.from(root.publicKey.encoded), root);
    roots = [rootAccount, rootKey];
    await custody.authorities.trustRoot(rootAccount, rootKey);
    const brandKey = await keystore.generate('brand-acme-serials');
    const brandSigner = await custody.signerFor('brand-acme-serials');
    const account = await signAssertion({ type: 'account', 'authority-id': 'fakecanonical', 'account-id': 'acme', 'display-name': 'Acme', validation: 'verified', timestamp: now() }, undefined, root);
    const accountKey = await signAssertion({ type: 'account-key', 'authority-id': 'fakecanonical', 'account-id': 'acme', name: 'serials', since: now(), 'public-key-sha3-384': brandKey.keyId }, Buffer.from(brandSigner.publicKey.encoded), root);
    await custody.importBrand(account, accountKey, 'brand-acme-serials');
    const delegated = await declaration('AcmeAppSnapId000000000000000001', 'acme-app', { 'revision-authority': [{ 'account-id': 'acme', provenance: ['acme-factory'], 'min-revision': '1', 'on-store': ['acme'] }] });
    await tv.vault.snaps.importDeclaration(OPERATOR, 'acme', delegated);
    await tv.vault.snaps.importDeclaration(OPERATOR, 'acme', await declaration('AcmePlainSnapId0000000000000001', 'acme-plain'));
  }, 120_000);

  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  const push = async (name: string, provenance?: string) => {
    const file = buildSnap(dir, { name, architectures: ['amd64'], ...(provenance ? { provenance } : {}) });
    const up = await tv.vault.snaps.upload(OPERATOR, createReadStream(file));
    return tv.vault.snaps.push(OPERATOR, 'acme', name, up.uploadId);
  };

  it('signs a revision the declaration delegates to the brand, and a device-side check accepts it', async () => {
    const rev = await push('acme-app', 'acme-factory');
    const snap = (await tv.vault.snaps.status(OPERATOR, 'acme', 'acme-app')).snap;
    const assertions = await tv.vault.snaps.assertionsFor(snap, rev);
    const revision = assertions.find((a) => a.type === 'snap-revision')!;
    expect(revision.authorityId).toBe('acme');
    expect(revision.headerString('provenance')).toBe('acme-factory');
    // What a device holding only the root would conclude.
    const device = new TrustDatabase({ trusted: roots });
    for (const r of device.addBatch(assertions)) expect(r.error, r.assertion.ref).toBeUndefined();
  });

  it('refuses to sign what no declaration delegates, saying why a device would reject it, and keeps no revision', async () => {
    expect(await refusal(push('acme-plain', 'acme-factory'))).toMatch(/^ERR_SIGNING_REFUSED: a device would reject revision 1 of "acme-plain" signed by "acme" with provenance "acme-factory": the snap-declaration does not delegate it \(it has no revision-authority\)/);
    expect(await refusal(push('acme-app', 'other-line'))).toMatch(/^ERR_SIGNING_REFUSED: .*provenance mismatch/);
    expect(await refusal(push('acme-app'))).toMatch(/^ERR_SIGNING_REFUSED: a device accepts a global-upload snap-revision only from Canonical/);
    expect((await tv.vault.snaps.status(OPERATOR, 'acme', 'acme-plain')).revisions).toEqual([]);
  });

  it('refuses to invent a declaration for a canonical brand', async () => {
    expect(await refusal(tv.vault.snaps.register(OPERATOR, { name: 'acme-new', storeId: 'acme' }))).toMatch(/^ERR_SIGNING_REFUSED: brand "acme" is in the canonical trust setup/);
  });

  it('model create refuses a gadget the brand does not publish, naming it', async () => {
    await tv.vault.snaps.importDeclaration(OPERATOR, 'acme', await declaration('OtherGadgetSnapId00000000000001', 'other-gadget', { 'publisher-id': 'fakecanonical' }), { type: 'gadget' });
    const model = tv.vault.models.createModel({ 'brand-id': 'acme', model: 'box', architecture: 'amd64', gadget: 'other-gadget', kernel: 'acme-app' });
    expect(await refusal(model)).toBe('ERR_MODEL_SNAP: model box names gadget snap "other-gadget", but "other-gadget" is published by "fakecanonical", not by the brand "acme"');
    const wrongType = tv.vault.models.createModel({ 'brand-id': 'acme', model: 'box', architecture: 'amd64', gadget: 'acme-app', kernel: 'acme-app' });
    expect(await refusal(wrongType)).toBe('ERR_MODEL_SNAP: model box names gadget snap "acme-app", but "acme-app" is a snap of type app');
  });

  it('imports a bundle as `snap download` writes it, keeping the revision number; a file that is not the one signed is refused', async () => {
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    const file = buildSnap(dir, { name: 'acme-tool', version: '3.1', architectures: ['amd64'] });
    const bytes = readFileSync(file);
    const decl = await declaration('AcmeToolSnapId00000000000000001', 'acme-tool');
    const rev = await signAssertion({ type: 'snap-revision', 'authority-id': 'fakecanonical', 'snap-sha3-384': createHash('sha3-384').update(bytes).digest('base64url'), 'snap-id': 'AcmeToolSnapId00000000000000001', 'snap-size': String(bytes.length), 'snap-revision': '7', 'developer-id': 'acme', timestamp: now() } as never, undefined, root);
    copyFileSync(file, join(bundle, 'acme-tool_7.snap'));
    writeFileSync(join(bundle, 'acme-tool_7.assert'), encodeStream([roots[1]!, decl, rev]));
    const imported = await cli('snap', 'import', bundle, '--store', 'acme', '--data-dir', dir);
    expect(imported.stderr).toBe('[1/1] acme-tool revision 7 (3.1)\n');
    expect(imported.stdout).toBe('imported 1 revision into acme\n');
    await tv.vault.snaps.release(OPERATOR, 'acme', 'acme-tool', [{ revision: 7, channel: 'stable' }]);
    expect((await tv.vault.snaps.offer('acme', ['acme-tool'], 'stable', 'amd64')).get('acme-tool')?.revision.revision).toBe(7);
    // Again: the same revision, not a second one.
    expect((await cli('snap', 'import', bundle, '--store', 'acme', '--data-dir', dir)).code).toBe(0);
    expect((await tv.vault.snaps.status(OPERATOR, 'acme', 'acme-tool')).revisions.map((r) => r.revision)).toEqual([7]);
    // Other bytes under the same assertions.
    copyFileSync(buildSnap(dir, { name: 'acme-tool', version: '3.2' }), join(bundle, 'acme-tool_7.snap'));
    const tampered = await cli('snap', 'import', bundle, '--store', 'acme', '--data-dir', dir);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('cannot import acme-tool_7.snap: the file is not the one its snap-revision describes (digest or size differ) [ERR_SIGNING_REFUSED]');
  });

  it('authority trust adds a self-signed root from a file, and refuses one that is not self-signed', async () => {
    const other = new NodeSigner(generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey);
    const since = now();
    const account = await signAssertion({ type: 'account', 'authority-id': 'otherroot', 'account-id': 'otherroot', 'display-name': 'Other', validation: 'verified', timestamp: since }, undefined, other);
    const key = await signAssertion({ type: 'account-key', 'authority-id': 'otherroot', 'account-id': 'otherroot', name: 'root', since, 'public-key-sha3-384': other.publicKey.id }, Buffer.from(other.publicKey.encoded), other);
    const file = join(dir, 'other-root.assert');
    writeFileSync(file, encodeStream([account, key]));
    const trusted = await cli('authority', 'trust', file, '--data-dir', dir);
    expect(trusted.stdout).toBe(`trusting root "otherroot" (key ${other.publicKey.id})\n`);
    expect((await tv.vault.custody.exportTrusted()).map((a) => a.ref)).toContain(account.ref);
    const forged = await signAssertion({ type: 'account', 'authority-id': 'thirdroot', 'account-id': 'thirdroot', 'display-name': 'Third', validation: 'verified', timestamp: now() }, undefined, root);
    const forgedKey = await signAssertion({ type: 'account-key', 'authority-id': 'thirdroot', 'account-id': 'thirdroot', name: 'root', since: now(), 'public-key-sha3-384': other.publicKey.id }, Buffer.from(other.publicKey.encoded), root);
    writeFileSync(file, encodeStream([forged, forgedKey]));
    const refused = await cli('authority', 'trust', file, '--data-dir', dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/does not verify with the key it registers.*\[ERR_ROOT_INVALID\]/);
  });

  it('refuses a declaration no trusted root signed', async () => {
    const stranger = new NodeSigner(generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey);
    const forged = await signAssertion({ type: 'snap-declaration', 'authority-id': 'fakecanonical', series: '16', 'snap-id': 'ForgedSnapId0000000000000000001', 'snap-name': 'forged', 'publisher-id': 'acme', timestamp: now() } as never, undefined, stranger);
    expect(await refusal(tv.vault.snaps.importDeclaration(OPERATOR, 'acme', forged))).toMatch(/^ERR_SIGNING_REFUSED: a device would reject/);
  });
  it("the store serves store/<id> only as the root signed it (not-found until then), and a provenance revision by its full key", async () => {
    const view = { storeId: 'acme', publicOnly: false };
    const find = (type: string, key: string[]) => tv.vault.store.assertions.find(view, type, key, 6);
    await expect(find('store', ['acme'])).rejects.toMatchObject({ code: 'ERR_ASSERTION_NOT_FOUND' });
    const signed = await signAssertion({ type: 'store', 'authority-id': 'fakecanonical', store: 'acme', 'operator-id': 'acme', timestamp: now() }, undefined, root);
    // One the brand signed itself is refused: a device would reject it and fail every install.
    const brandSigned = await signAssertion({ type: 'store', 'authority-id': 'acme', store: 'acme', 'operator-id': 'acme', timestamp: now() }, undefined, await tv.vault.custody.signerFor('brand-acme-serials'));
    await expect(tv.vault.custody.authorities.importStoreAssertion(brandSigned)).rejects.toMatchObject({ code: 'ERR_ASSERTION_UNTRUSTED' });
    await tv.vault.custody.authorities.importStoreAssertion(signed);
    expect((await find('store', ['acme'])).encode().equals(signed.encode())).toBe(true);
    const revision = (await tv.vault.snaps.status(OPERATOR, 'acme', 'acme-app')).revisions.find((r) => r.provenance === 'acme-factory');
    expect(revision).toBeDefined();
    // snapd asks for snap-revision/<digest>/<provenance> when the snap.yaml of the action result names one.
    await expect(find('snap-revision', [revision!.sha3_384])).rejects.toMatchObject({ code: 'ERR_ASSERTION_NOT_FOUND' });
    const got = await find('snap-revision', [revision!.sha3_384, 'acme-factory']);
    expect([got.authorityId, got.headerString('provenance')]).toEqual(['acme', 'acme-factory']);
  });
});
