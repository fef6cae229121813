import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeSigner, formatRfc3339, signAssertion, type Assertion } from '../../src/assertions/index.js';
import { DeviceRegistrationError, registerDevice } from '../../src/cli/device-client.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';

const dataDir = testDataDir();
afterAll(() => removeDataDir(dataDir));

const BRAND = 'demo-brand';

/** snapd's re-registration: the new model, original-* headers, the current serial after the model, the old gadget's api-key. */
async function remodel(t: TestVault, target: Assertion, oldSerial: Assertion, deviceKey: KeyObject) {
  const v = oldSerial.is('serial') ? oldSerial.view : undefined;
  try {
    const r = await registerDevice({
      url: t.url,
      headers: { 'api-key': t.apiKey },
      model: target,
      trusted: t.trusted,
      deviceKey,
      requestHeaders: { 'original-brand-id': v!.brandId, 'original-model': v!.model, 'original-serial': v!.serial },
      ancillary: [oldSerial],
    });
    return { ok: true as const, serial: r.serial };
  } catch (e) {
    if (e instanceof DeviceRegistrationError) return { ok: false as const, status: e.status, message: e.message };
    throw e;
  }
}

describe.each<DatabaseKind>(['sqlite', 'pg'])('remodel re-registration on %s', (database) => {
  let t: TestVault;
  let keys: KeyObject[];
  let target: Assertion;
  const serials: Assertion[] = [];
  beforeAll(async () => {
    t = await startTestVault(dataDir, database);
    keys = await deviceKeys(3, 1024);
    const record = await t.vault.models.createModel(
      { 'brand-id': BRAND, model: 'reseller-box', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel', store: 'reseller-store' },
      { checkCatalog: false, serialPolicy: 'template', serialTemplate: 'RS-{n:06}' },
    );
    target = await t.vault.models.assertion(record);
    for (const deviceKey of keys) serials.push((await registerDevice({ url: t.url, headers: { 'api-key': t.apiKey }, model: t.model, trusted: t.trusted, deviceKey })).serial);
  }, 120_000);
  afterAll(() => t?.close());

  it('refuses a move no rule allows, saying which command allows it', async () => {
    const r = await remodel(t, target, serials[0]!, keys[0]!);
    expect(r).toMatchObject({ ok: false, status: 403 });
    expect(!r.ok && r.message).toContain('moving devices from demo-brand/demo-model to demo-brand/reseller-box is not allowed');
    expect(!r.ok && r.message).toContain('serial-vault remodel allow --from demo-brand/demo-model --to demo-brand/reseller-box');
  });

  it('refuses a move into another sub-store than the rule names', async () => {
    await t.vault.provisioning.factory.allowRemodel(BRAND, 'demo-model', 'reseller-box', 'partner-store');
    const r = await remodel(t, target, serials[0]!, keys[0]!);
    expect(!r.ok && r.message).toContain('allowed only into store partner-store, and demo-brand/reseller-box names store reseller-store');
  });

  it('moves an allowed device: a serial of the target model for the same device key, linked to the old one in the issuance log', async () => {
    await t.vault.provisioning.factory.allowRemodel(BRAND, 'demo-model', 'reseller-box', 'reseller-store');
    const r = await remodel(t, target, serials[0]!, keys[0]!);
    expect(r.ok).toBe(true);
    const moved = r.ok && r.serial.is('serial') ? r.serial.view : undefined;
    expect(moved?.model).toBe('reseller-box');
    expect(moved?.serial).toBe('RS-000001');
    expect(moved?.deviceKeyId).toBe(serials[0]!.is('serial') ? serials[0]!.view.deviceKeyId : '');
    const row = await t.vault.db('issuance_log').where({ model: 'reseller-box', serial: 'RS-000001', outcome: 'issued' }).first();
    expect(row.original).toBe(`demo-brand/demo-model/${serials[0]!.headerString('serial')}`);
    const audit = await t.vault.db('audit_log').where({ action: 'remodel.allow' }).count({ n: '*' });
    expect(Number(audit[0]!['n'])).toBe(2);
  });

  it('refuses an old serial that does not verify', async () => {
    const forger = new NodeSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    const device = new NodeSigner(keys[1]!);
    const forged = await signAssertion(
      {
        type: 'serial',
        'authority-id': BRAND,
        'brand-id': BRAND,
        model: 'demo-model',
        serial: 'FORGED-1',
        'device-key': device.publicKey.encoded,
        'device-key-sha3-384': device.publicKey.id,
        timestamp: formatRfc3339(new Date()),
      },
      undefined,
      forger,
      { minimumKeyBits: 2048 },
    );
    const r = await remodel(t, target, forged, keys[1]!);
    expect(r).toMatchObject({ ok: false, status: 400 });
    expect(!r.ok && r.message).toMatch(/the device's current serial FORGED-1 does not verify/);
  });

  it('refuses an old serial of another device key', async () => {
    const r = await remodel(t, target, serials[2]!, keys[1]!);
    expect(r).toMatchObject({ ok: false, status: 403 });
    expect(!r.ok && r.message).toContain(`serial ${serials[2]!.headerString('serial')} belongs to another device key`);
  });
});
