import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NodeSigner,
  decodeStream,
  formatRfc3339,
  hardwareKeyDigest,
  isCanonical,
  signAssertion,
  signContent,
  type Assertion,
  type CheckResult,
  type SerialRequestView,
} from '../../src/assertions/index.js';
import type { ModelRecord } from '../../src/catalog/models.js';
import { ProvisioningError } from '../../src/provisioning/errors.js';
import { HardwareIdentities } from '../../src/provisioning/hardware-identities.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

/**
 * Hardware identities on a real vault (SoftHSM2, SQLite): a factory's file
 * of 100,000 imported in one go and again as a no-op, files that are
 * refused whole, and the proof a device gives with its hardware key.
 *
 * The vault's HSM keys sign at a few hundred a second, so the identities
 * are signed by an in-memory key whose account-key the vault's root signs
 * into the brand's chain: what the import checks is the same chain.
 */

const BRAND = 'demo-brand';
const MANUFACTURER = 'acme-factory';
const SIGNED_AT = new Date('2025-01-01T00:00:00Z');
// Small keys: verification has no minimum size, and 100,000 signatures must take seconds.
const FAST_BITS = 1024;

const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('base64');
/** A distinct Ed25519 SubjectPublicKeyInfo per device, made without key generation: any 32 bytes are a key to parse. */
const ed25519Key = (i: number) => Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), createHash('sha256').update(`device ${i}`).digest()]).toString('base64');

interface IdentityInput {
  readonly issuer?: string;
  readonly hardwareId: string;
  readonly key: string;
  readonly manufacturer?: string;
}

/** The identity's text, headers in canonical order, signed by `signer`. */
async function identityText(signer: NodeSigner, input: IdentityInput): Promise<string> {
  const issuer = input.issuer ?? BRAND;
  const content = [
    'type: hardware-identity',
    `authority-id: ${issuer}`,
    `issuer-id: ${issuer}`,
    `hardware-id-key-sha3-384: ${hardwareKeyDigest(input.key)}`,
    `hardware-id: ${input.hardwareId}`,
    `hardware-id-key: ${input.key}`,
    'hardware-name: demo-board',
    `manufacturer: ${input.manufacturer ?? 'Demo Manufacturing'}`,
    `sign-key-sha3-384: ${signer.publicKey.id}`,
  ].join('\n');
  return `${content}\n\n${await signContent(Buffer.from(content), signer, SIGNED_AT, FAST_BITS)}`;
}

/** A stream file: one blank line between assertions (each signature ends in a line break). */
const streamOf = (texts: readonly string[]) => Buffer.from(texts.join('\n'));

function refusal(e: unknown): { code: string; message: string } {
  if (e instanceof ProvisioningError) return { code: e.code, message: e.message };
  throw e;
}
const refused = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error('expected a refusal')), refusal);

describe('hardware identities', () => {
  const dir = testDataDir();
  let tv: TestVault;
  let identities: HardwareIdentities;
  let brandSigner: NodeSigner;
  let manufacturerSigner: NodeSigner;
  let check: (a: Assertion) => CheckResult;
  let model: ModelRecord;

  /** An account-key for `accountId` signed by the vault's local root, stored among the chains. */
  async function chainKey(accountId: string, name: string): Promise<NodeSigner> {
    const signer = new NodeSigner(generateKeyPairSync('rsa', { modulusLength: FAST_BITS }).privateKey);
    const root = await tv.vault.custody.signerFor('root-demo-root');
    const accountKey = await signAssertion(
      { type: 'account-key', 'authority-id': 'demo-root', 'account-id': accountId, name, since: '2020-01-01T00:00:00Z', 'public-key-sha3-384': signer.publicKey.id },
      Buffer.from(signer.publicKey.encoded),
      root,
    );
    await tv.vault.custody.assertions.put(accountKey);
    return signer;
  }

  beforeAll(async () => {
    tv = await startTestVault(dir, 'sqlite');
    identities = new HardwareIdentities(tv.vault.db);
    const root = await tv.vault.custody.signerFor('root-demo-root');
    const account = await signAssertion({ type: 'account', 'authority-id': 'demo-root', 'account-id': MANUFACTURER, 'display-name': 'ACME Factory', validation: 'verified', timestamp: formatRfc3339(new Date()) }, undefined, root);
    await tv.vault.custody.assertions.put(account);
    brandSigner = await chainKey(BRAND, 'hardware-identities');
    manufacturerSigner = await chainKey(MANUFACTURER, 'identities');
    const trust = await tv.vault.custody.trust();
    check = (a) => trust.check(a);
    model = (await tv.vault.models.find(BRAND, 'demo-model'))!;
  }, 120_000);

  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  const importAuditEntries = async () => Number(((await tv.vault.db('audit_log').where({ action: 'hardware-identity.import' }).count({ n: '*' }).first()) as { n: unknown }).n);

  it('imports 100,000 identities streamed from a file, and the same file again changes nothing', async () => {
    const texts: string[] = [];
    for (let i = 0; i < 100_000; i++) texts.push(await identityText(brandSigner, { hardwareId: `HW-${String(i).padStart(6, '0')}`, key: ed25519Key(i) }));
    const first = decodeStream(Buffer.from(texts[0]!))[0]!;
    expect(isCanonical(first)).toBe(true);
    expect(check(first)).toEqual({ ok: true });
    const file = join(dir, 'identities.assert');
    writeFileSync(file, streamOf(texts));
    const auditBefore = await importAuditEntries();
    const seen: number[] = [];
    const counts = await identities.import(BRAND, createReadStream(file, { highWaterMark: 64 * 1024 }), { check, onProgress: (p) => seen.push(p.read) });
    expect(counts).toEqual({ read: 100_000, added: 100_000, unchanged: 0 });
    expect(seen.at(-1)).toBe(100_000);
    expect(seen.length).toBeGreaterThan(50);
    expect(await identities.count(BRAND)).toBe(100_000);
    expect(await importAuditEntries()).toBe(auditBefore + 1);

    const again = await identities.import(BRAND, createReadStream(file), { check });
    expect(again).toEqual({ read: 100_000, added: 0, unchanged: 100_000 });
    expect(await identities.count(BRAND)).toBe(100_000);
    expect(await importAuditEntries()).toBe(auditBefore + 1);

    const stored = await identities.byKeyDigest(hardwareKeyDigest(ed25519Key(41_999)));
    expect(stored).toMatchObject({ brandId: BRAND, issuerId: BRAND, hardwareId: 'HW-041999', hardwareName: 'demo-board', manufacturer: 'Demo Manufacturing', assertion: texts[41_999], binding: undefined });
    const page = await identities.list(BRAND, { limit: 3 });
    expect(page.map((r) => r.hardwareId)).toEqual(['HW-000000', 'HW-000001', 'HW-000002']);
    expect((await identities.list(BRAND, { after: page[2]!.id, limit: 1 }))[0]?.hardwareId).toBe('HW-000003');
  }, 240_000);

  let keysMade = 1_000_000;
  /** `n` identities with keys of their own, named PREFIX-1 …: their texts, and the keys. */
  const small = async (prefix: string, n: number, signer = brandSigner, issuer?: string) => {
    const keys = Array.from({ length: n }, () => ed25519Key(keysMade++));
    const texts = await Promise.all(keys.map((key, i) => identityText(signer, { hardwareId: `${prefix}-${i + 1}`, key, ...(issuer ? { issuer } : {}) })));
    return Object.assign(texts, { keys });
  };

  it('applies nothing of a file with one bad assertion in the middle, and names it', async () => {
    const before = await identities.count(BRAND);
    const texts = await small('BAD', 9);
    const tampered = texts[4]!.replace('hardware-name: demo-board', 'hardware-name: other-board');
    const tamperedFile = streamOf([...texts.slice(0, 4), tampered, ...texts.slice(5)]);
    expect(await refused(identities.import(BRAND, tamperedFile, { check }))).toEqual({ code: 'ERR_HARDWARE_IDENTITY_INVALID', message: expect.stringMatching(/^cannot import assertion 5 of the file \(at byte \d+\): hardware identity "BAD-5" does not verify: failed signature verification/) });

    const notIdentity = streamOf([...texts.slice(0, 2), tv.model.encode().toString(), ...texts.slice(2)]);
    expect(await refused(identities.import(BRAND, notIdentity, { check }))).toEqual({ code: 'ERR_HARDWARE_IDENTITY_INVALID', message: expect.stringMatching(/^cannot import assertion 3 .*: its type is model, not hardware-identity$/) });

    const broken = streamOf([...texts.slice(0, 6), texts[6]!.replace('issuer-id: demo-brand', 'issuer-id: demo/brand'), ...texts.slice(7)]);
    expect(await refused(identities.import(BRAND, broken, { check }))).toEqual({ code: 'ERR_HARDWARE_IDENTITY_INVALID', message: expect.stringMatching(/^cannot import assertion 7 .*"issuer-id" primary key header cannot contain "\/"/) });
    expect(await identities.count(BRAND)).toBe(before);
  });

  it('refuses a file holding another assertion for a stored key, with nothing of it applied', async () => {
    const texts = await small('KEEP', 3);
    expect(await identities.import(BRAND, streamOf(texts), { check })).toEqual({ read: 3, added: 3, unchanged: 0 });
    const fresh = await small('FRESH', 4);
    const reissued = await identityText(brandSigner, { hardwareId: 'KEEP-2', key: texts.keys[1]!, manufacturer: 'Someone Else' });
    const before = await identities.count(BRAND);
    expect(await refused(identities.import(BRAND, streamOf([...fresh, reissued]), { check }))).toEqual({ code: 'ERR_HARDWARE_IDENTITY_INVALID', message: expect.stringContaining('cannot import assertion 5 of the file: hardware identity "KEEP-2"') });
    expect(await identities.count(BRAND)).toBe(before);
    // The same identity twice in one file is read twice and stored once.
    expect(await identities.import(BRAND, streamOf([...fresh, fresh[0]!]), { check })).toEqual({ read: 5, added: 4, unchanged: 1 });
  });

  it("refuses an issuer the brand does not name, and takes it once named; refuses a signature outside the chain", async () => {
    const texts = await small('ACME', 2, manufacturerSigner, MANUFACTURER);
    expect(await refused(identities.import(BRAND, streamOf(texts), { check }))).toEqual({ code: 'ERR_HARDWARE_IDENTITY_ISSUER', message: expect.stringContaining('hardware identity "ACME-1" is issued by "acme-factory", which brand "demo-brand" does not trust') });
    expect(await identities.import(BRAND, streamOf(texts), { check, issuers: [MANUFACTURER] })).toEqual({ read: 2, added: 2, unchanged: 0 });
    expect((await identities.list(BRAND, { limit: 1000, after: 100_000 })).filter((r) => r.issuerId === MANUFACTURER)).toHaveLength(2);

    const stranger = new NodeSigner(generateKeyPairSync('rsa', { modulusLength: FAST_BITS }).privateKey);
    expect(await refused(identities.import(BRAND, streamOf(await small('STRANGER', 1, stranger)), { check }))).toEqual({ code: 'ERR_HARDWARE_IDENTITY_INVALID', message: expect.stringContaining(`does not verify: no matching public key "${stranger.publicKey.id}"`) });
  });

  describe('admitting a device', () => {
    const hardware = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const digest = hardwareKeyDigest(spki(hardware.publicKey));
    let devices: KeyObject[];

    beforeAll(async () => {
      await identities.import(BRAND, streamOf([await identityText(brandSigner, { hardwareId: 'BOARD-7', key: spki(hardware.publicKey) })]), { check });
      devices = await deviceKeys(2);
    });

    const proof = (requestId: string, key: KeyObject = hardware.privateKey, fields: Record<string, string> = {}) =>
      JSON.stringify({ 'hardware-id-key-sha3-384': digest, 'request-id-signature': sign('sha256', Buffer.from(requestId), { key, dsaEncoding: 'der' }).toString('base64'), ...fields });

    async function serialRequest(requestId: string, body: string | undefined, device: KeyObject = devices[0]!): Promise<Assertion<SerialRequestView>> {
      const signer = new NodeSigner(device);
      const a = await signAssertion({ type: 'serial-request', 'brand-id': BRAND, model: 'demo-model', 'request-id': requestId, 'device-key': signer.publicKey.encoded }, body === undefined ? undefined : Buffer.from(body), signer, { minimumKeyBits: 2048 });
      return a as Assertion<SerialRequestView>;
    }

    it('admits the device whose hook signed the request-id with the hardware key', async () => {
      const identity = await identities.admit(await serialRequest('REQ-1', proof('REQ-1')), model);
      expect(identity).toMatchObject({ hardwareId: 'BOARD-7', keyDigest: digest, brandId: BRAND, binding: undefined });
    });

    it("refuses a body without the proof, naming the gadget's hook", async () => {
      expect(await refused(identities.admit(await serialRequest('REQ-2', undefined), model))).toEqual({ code: 'ERR_HARDWARE_IDENTITY_REQUIRED', message: expect.stringContaining("prepare-serial-request hook must set hardware-id-key-sha3-384 and request-id-signature") });
      expect((await refused(identities.admit(await serialRequest('REQ-2', '{"hardware-id-key-sha3-384": "short", "request-id-signature": "AAAA"}'), model))).code).toBe('ERR_HARDWARE_IDENTITY_REQUIRED');
    });

    it('refuses an identity not imported, or imported for another brand', async () => {
      const other = hardwareKeyDigest('a key never imported');
      expect(await refused(identities.admit(await serialRequest('REQ-3', proof('REQ-3', hardware.privateKey, { 'hardware-id-key-sha3-384': other })), model))).toEqual({
        code: 'ERR_HARDWARE_IDENTITY_UNKNOWN',
        message: `no hardware identity with hardware-id-key-sha3-384 "${other}" is imported for brand demo-brand: import its hardware-identity assertion with serial-vault hardware-identity import`,
      });
      expect((await refused(identities.admit(await serialRequest('REQ-3', proof('REQ-3')), { ...model, brandAccountId: 'other-brand' }))).code).toBe('ERR_HARDWARE_IDENTITY_UNKNOWN');
    });

    it('refuses a signature of another request-id, or by another key', async () => {
      const wrong = await refused(identities.admit(await serialRequest('REQ-4', proof('REQ-OTHER')), model));
      expect(wrong).toEqual({ code: 'ERR_HARDWARE_IDENTITY_SIGNATURE', message: expect.stringMatching(/^the request-id-signature does not verify with hardware identity BOARD-7/) });
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      expect((await refused(identities.admit(await serialRequest('REQ-4', proof('REQ-4', stranger)), model))).code).toBe('ERR_HARDWARE_IDENTITY_SIGNATURE');
    });

    it('binds the identity to one device key: again for the same key, never for another', async () => {
      const identity = await identities.admit(await serialRequest('REQ-5', proof('REQ-5')), model);
      const [first, second] = devices.map((d) => new NodeSigner(d).publicKey.id) as [string, string];
      const bind = (deviceKeyId: string, serial: string) => tv.vault.db.transaction((trx) => identities.bind(trx, identity.id, { deviceKeyId, modelId: model.id, serial, at: new Date() }));
      expect(await bind(first, 'DEMO-HW-7')).toBe(true);
      expect(await bind(first, 'DEMO-HW-7')).toBe(true);
      expect(await bind(second, 'DEMO-HW-8')).toBe(false);
      expect((await identities.byKeyDigest(digest))?.binding).toMatchObject({ deviceKeyId: first, modelId: model.id, model: 'demo-model', serial: 'DEMO-HW-7' });

      expect((await identities.admit(await serialRequest('REQ-6', proof('REQ-6')), model)).id).toBe(identity.id);
      expect(await refused(identities.admit(await serialRequest('REQ-7', proof('REQ-7'), devices[1]), model))).toEqual({
        code: 'ERR_HARDWARE_IDENTITY_USED',
        message: 'hardware identity BOARD-7 already onboarded device DEMO-HW-7 of demo-brand/demo-model with another device key',
      });
    });
  });
});
