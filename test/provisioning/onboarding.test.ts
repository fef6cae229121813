import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeStream, hardwareKeyDigest, signAssertion, type Assertion } from '../../src/assertions/index.js';
import { DeviceRegistrationError, registerDevice } from '../../src/cli/device-client.js';
import { chainCheck } from '../../src/provisioning/hardware-identities.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';

const dataDir = testDataDir();
afterAll(() => removeDataDir(dataDir));

const BRAND = 'demo-brand';

/** A board's hardware key pair, made at manufacturing; the public half goes into its hardware-identity. */
interface Board {
  readonly id: string;
  readonly key: KeyObject;
  /** The hardware-id-key header: base64 SPKI, as the PEM body without its lines. */
  readonly spki: string;
}

const board = (id: string): Board => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { id, key: privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
};

/** What the gadget's prepare-serial-request hook writes: the key's digest and the request-id signed by the hardware key. */
const hook = (b: Board, signWith: KeyObject = b.key, signed?: string) => (requestId: string) =>
  JSON.stringify({ 'hardware-id-key-sha384': hardwareKeyDigest(b.spki), 'request-id-signature': sign('sha256', Buffer.from(signed ?? requestId), signWith).toString('base64') });

describe.each<DatabaseKind>(['sqlite', 'pg'])('hardware-identity onboarding on %s', (database) => {
  let t: TestVault;
  let model: Assertion;
  let keys: KeyObject[];
  const boards = ['HW-1', 'HW-2', 'HW-3', 'HW-4', 'HW-5'].map(board);

  const onboard = async (deviceKey: KeyObject, prepareBody: (id: string) => string, headers: Record<string, string> = {}) => {
    try {
      const r = await registerDevice({ url: t.url, headers, model, trusted: t.trusted, deviceKey, prepareBody });
      return { ok: true as const, serial: r.serial.headerString('serial') };
    } catch (e) {
      if (e instanceof DeviceRegistrationError) return { ok: false as const, status: e.status, message: e.message };
      throw e;
    }
  };

  beforeAll(async () => {
    t = await startTestVault(dataDir, database);
    keys = await deviceKeys(6, 1024);
    const record = await t.vault.models.createModel(
      { 'brand-id': BRAND, model: 'secure-box', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel' },
      { checkCatalog: false, serialPolicy: 'template', serialTemplate: 'SB-{n:05}', provisioning: 'hardware-identity' },
    );
    model = await t.vault.models.assertion(record);
    // The manufacturer's file, signed by the brand: every board but the last.
    const signer = await t.vault.custody.signerFor('brand-demo-brand-serials');
    const assertions = [];
    for (const b of boards.slice(0, 4)) {
      assertions.push(
        await signAssertion({ type: 'hardware-identity', 'authority-id': BRAND, 'issuer-id': BRAND, manufacturer: 'Demo Boards', 'hardware-name': 'secure-board', 'hardware-id': b.id, 'hardware-id-key': b.spki, 'hardware-id-key-sha3-384': hardwareKeyDigest(b.spki) }, undefined, signer),
      );
    }
    expect(await t.vault.provisioning.hardwareIdentities.import(BRAND, encodeStream(assertions), { check: await chainCheck(t.vault.custody) })).toEqual({ read: 4, added: 4, unchanged: 0 });
  }, 120_000);
  afterAll(() => t?.close());

  it('registers a device with a valid request-id-signature and no API key, bound to its identity', async () => {
    const r = await onboard(keys[0]!, hook(boards[0]!));
    expect(r).toEqual({ ok: true, serial: 'SB-00001' });
    const bound = await t.vault.provisioning.hardwareIdentities.byKeyDigest(hardwareKeyDigest(boards[0]!.spki));
    expect(bound?.binding).toMatchObject({ serial: 'SB-00001', model: 'secure-box' });
    const log = await t.vault.db('issuance_log').where({ model: 'secure-box', serial: 'SB-00001' }).first();
    expect(log.hardware_id_key).toBe(hardwareKeyDigest(boards[0]!.spki));
    // The same device asking again gets the same serial.
    expect(await onboard(keys[0]!, hook(boards[0]!))).toEqual({ ok: true, serial: 'SB-00001' });
  });

  it('refuses an identity that was never imported, naming it', async () => {
    const r = await onboard(keys[1]!, hook(boards[4]!));
    expect(r).toMatchObject({ ok: false, status: 403 });
    expect(!r.ok && r.message).toContain(hardwareKeyDigest(boards[4]!.spki));
    expect(!r.ok && r.message).toContain('serial-vault hardware-identity import');
  });

  it('refuses a signature over another request-id, and one by another key', async () => {
    const other = await onboard(keys[2]!, hook(boards[1]!, boards[1]!.key, 'some-other-request-id'));
    expect(other).toMatchObject({ ok: false, status: 403 });
    expect(!other.ok && other.message).toMatch(/request-id-signature does not verify with hardware identity HW-2/);
    const wrongKey = await onboard(keys[2]!, hook(boards[1]!, boards[2]!.key));
    expect(wrongKey).toMatchObject({ ok: false, status: 403 });
    expect(!wrongKey.ok && wrongKey.message).toMatch(/request-id-signature does not verify with hardware identity HW-2/);
    // Nothing was bound by the refusals: the rightful device still onboards.
    expect(await onboard(keys[2]!, hook(boards[1]!))).toMatchObject({ ok: true });
  });

  it('refuses a second device presenting an identity already onboarded', async () => {
    const r = await onboard(keys[3]!, hook(boards[0]!));
    expect(r).toMatchObject({ ok: false, status: 409 });
    expect(!r.ok && r.message).toMatch(/HW-1 already onboarded device SB-00001/);
  });

  it('refuses a device with no proof at all, saying what the gadget must send', async () => {
    const r = await onboard(keys[4]!, () => 'mac: 00:11:22:33:44:55');
    expect(r).toMatchObject({ ok: false, status: 401 });
    expect(!r.ok && r.message).toContain('prepare-serial-request');
    // An API key alone does not admit a model that onboards by hardware identity.
    const keyed = await onboard(keys[4]!, () => 'mac: 00:11:22:33:44:55', { 'api-key': t.apiKey });
    expect(keyed).toMatchObject({ ok: false });
  });

  it('keeps the method on a remodel: the device proves its identity again, and the binding moves to the new serial', async () => {
    const target = await t.vault.models.createModel(
      { 'brand-id': BRAND, model: 'secure-box-pro', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel' },
      { checkCatalog: false, serialPolicy: 'template', serialTemplate: 'SP-{n:05}' },
    );
    await t.vault.provisioning.factory.allowRemodel(BRAND, 'secure-box', 'secure-box-pro', undefined);
    const old = (await t.vault.provisioning.serials.bySerial((await t.vault.models.find(BRAND, 'secure-box'))!.id, 'SB-00001'))!;
    const { decodeAssertion } = await import('../../src/assertions/index.js');
    const oldSerial = decodeAssertion(Buffer.from(old.assertion, 'utf8'));
    const targetModel = await t.vault.models.assertion(target);
    const move = (prepareBody: (id: string) => string) =>
      registerDevice({
        url: t.url,
        model: targetModel,
        trusted: t.trusted,
        deviceKey: keys[0]!,
        prepareBody,
        requestHeaders: { 'original-brand-id': BRAND, 'original-model': 'secure-box', 'original-serial': 'SB-00001' },
        ancillary: [oldSerial],
      }).then(
        (r) => ({ ok: true as const, serial: r.serial.headerString('serial') }),
        (e: DeviceRegistrationError) => ({ ok: false as const, status: e.status, message: e.message }),
      );
    const unproven = await move(() => 'mac: 00:11:22:33:44:55');
    expect(unproven).toMatchObject({ ok: false, status: 401 });
    expect(await move(hook(boards[0]!))).toEqual({ ok: true, serial: 'SP-00001' });
    const bound = await t.vault.provisioning.hardwareIdentities.byKeyDigest(hardwareKeyDigest(boards[0]!.spki));
    expect(bound?.binding).toMatchObject({ serial: 'SP-00001', model: 'secure-box-pro' });
  });

  it('re-imports the same file as a no-op', async () => {
    const before = Number((await t.vault.db('audit_log').count({ n: '*' }))[0]!['n']);
    const stored = await Promise.all(boards.slice(0, 4).map((b) => t.vault.provisioning.hardwareIdentities.byKeyDigest(hardwareKeyDigest(b.spki))));
    const file = Buffer.concat(stored.map((r) => Buffer.from(`${r!.assertion}${r!.assertion.endsWith('\n') ? '' : '\n'}\n`)));
    expect(await t.vault.provisioning.hardwareIdentities.import(BRAND, file, { check: await chainCheck(t.vault.custody) })).toEqual({ read: 4, added: 0, unchanged: 4 });
    expect(Number((await t.vault.db('audit_log').count({ n: '*' }))[0]!['n'])).toBe(before);
  });
});
