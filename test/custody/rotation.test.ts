import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrustDatabase, decodeStream, type Assertion } from '../../src/assertions/index.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { exportChain } from '../../src/custody/chain-export.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

const run = promisify(execFile);
const bin = resolve('dist/src/cli/main.js');

/**
 * A serial key rotates while devices register without pause: the rotation
 * runs in another process (the command line beside the running vault), as a
 * security officer would run it. No registration fails, serials from before
 * and after verify against the exported chain, and each answer carries the
 * account-key of the key that signed that serial.
 */
describe('rotating the serials key under load', () => {
  const dir = testDataDir();
  let tv: TestVault;
  let keys: KeyObject[];
  const registered: Array<{ serial: Assertion; stream: readonly Assertion[]; key: KeyObject }> = [];
  const failures: string[] = [];
  let oldKeyId: string;
  let newKeyId: string;
  let seed: Assertion[];

  beforeAll(async () => {
    tv = await startTestVault(dir, 'sqlite');
    keys = await deviceKeys(130);
    oldKeyId = (await tv.vault.custody.keys.byLabel('brand-demo-brand-serials'))!.keyId;
    // The image's seed: the model with the account-key that signed it.
    seed = await tv.vault.custody.brandChain('demo-brand', tv.model.signKeyId);
  }, 120_000);

  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  const register = async (key: KeyObject) => {
    try {
      const r = await registerDevice({ url: tv.url, headers: { 'api-key': tv.apiKey }, model: tv.model, trusted: tv.trusted, seed, deviceKey: key });
      registered.push({ serial: r.serial, stream: r.stream, key });
    } catch (e) {
      failures.push((e as Error).message);
    }
  };

  it('registers every device while the key rotates in another process', async () => {
    let stop = false;
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const key = keys.pop();
        if (!key) break;
        await register(key);
        // About a dozen devices a second in all: enough keys for the seconds the switch takes.
        await new Promise((r) => setTimeout(r, 300));
      }
    });
    // Some devices registered with the old key first.
    while (registered.length < 10 && failures.length === 0) await new Promise((r) => setTimeout(r, 20));
    const rotated = await run(process.execPath, [bin, 'key', 'rotate', '--brand', 'demo-brand', '--purpose', 'serials', '--data-dir', dir, '--json'], { env: { ...process.env, SERIAL_VAULT_TOKEN: '' } });
    newKeyId = (JSON.parse(rotated.stdout) as { result: { key: { keyId: string } } }).result.key.keyId;
    // The running vault reads the brand's keys again within seconds: go on until it signs with the new key.
    const until = Date.now() + 20_000;
    while (Date.now() < until && !registered.some((r) => r.serial.signKeyId === newKeyId)) await new Promise((r) => setTimeout(r, 50));
    const afterSwitch = registered.length;
    while (registered.length < afterSwitch + 10 && keys.length > 0) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    const byKey = (id: string) => registered.filter((r) => r.serial.signKeyId === id).length;
    expect(byKey(oldKeyId)).toBeGreaterThanOrEqual(10);
    expect(byKey(newKeyId)).toBeGreaterThanOrEqual(10);
    expect(byKey(oldKeyId) + byKey(newKeyId)).toBe(registered.length);
  }, 120_000);

  it('gives each serial the account-key that signed it, and every serial verifies against the exported chain', async () => {
    for (const { serial, stream } of registered) {
      const accountKeys = stream.filter((a) => a.is('account-key'));
      // The signing key's first; after the rotation the model's own (older) key comes along too, for the model.
      expect(accountKeys.map((a) => a.headerString('public-key-sha3-384'))[0]).toBe(serial.signKeyId);
    }
    const brand = (await tv.vault.custody.brands.byAccountId('demo-brand'))!;
    // Each serial's timestamp lies in the window its key signed in: the switch is exact to the second.
    const windows = new Map((await tv.vault.custody.keys.ofBrand(brand.id)).map((k) => [k.keyId, k]));
    for (const { serial } of registered) {
      const key = windows.get(serial.signKeyId)!;
      const at = Date.parse(serial.headerString('timestamp'));
      expect(at).toBeGreaterThanOrEqual(Date.parse(key.since));
      if (key.until) expect(at).toBeLessThan(Date.parse(key.until));
    }
    const chain = await exportChain(tv.vault.custody, brand, new Date());
    expect(chain.keys.map((k) => [k.keyId, k.state])).toEqual([
      [oldKeyId, 'retired'],
      [newKeyId, 'active'],
    ]);
    const trust = new TrustDatabase({ trusted: tv.trusted });
    expect(trust.addBatch([...chain.assertions, tv.model]).filter((r) => r.error)).toEqual([]);
    for (const { serial } of registered) expect(trust.check(serial)).toMatchObject({ ok: true });
  });

  it('answers a device registered before the rotation with its serial from the old key, and that key’s account-key', async () => {
    const early = registered.find((r) => r.serial.signKeyId === oldKeyId)!;
    const again = await registerDevice({ url: tv.url, headers: { 'api-key': tv.apiKey }, model: tv.model, trusted: tv.trusted, seed, deviceKey: early.key });
    expect(again.serial.encode().equals(early.serial.encode())).toBe(true);
    expect(again.stream.filter((a) => a.is('account-key')).map((a) => a.headerString('public-key-sha3-384'))).toEqual([oldKeyId]);
  });

  it('re-signs the model as its next revision with the key in use now, and exports a chain that verifies both', async () => {
    const resigned = await run(process.execPath, [bin, 'model', 'resign', '--brand', 'demo-brand', '--model', 'demo-model', '--data-dir', dir]);
    expect(resigned.stdout).toMatch(/model demo-brand\/demo-model re-signed: revision 1/);
    const exported = await run(process.execPath, [bin, 'export', 'chain', '--brand', 'demo-brand', '--data-dir', dir]);
    expect(exported.stderr).toMatch(/brand-demo-brand-serials: serials, retired/);
    expect(exported.stderr).toMatch(/brand-demo-brand-serials-2: serials, active/);
    const chain = decodeStream(Buffer.from(exported.stdout));
    expect(chain.map((a) => a.type)).toEqual(['account', 'account-key', 'account-key']);
    const model = await tv.vault.models.assertion((await tv.vault.models.find('demo-brand', 'demo-model'))!);
    expect(model.revision).toBe(1);
    expect(model.signKeyId).toBe(newKeyId);
    const trust = new TrustDatabase({ trusted: tv.trusted });
    expect(trust.addBatch([...chain, model]).filter((r) => r.error)).toEqual([]);
    expect(trust.check(tv.model)).toMatchObject({ ok: true });
  });

  it('refuses to rotate a key that is no longer in use', async () => {
    const r = await run(process.execPath, [bin, 'key', 'rotate', '--brand', 'demo-brand', '--purpose', 'serials', '--key', 'brand-demo-brand-serials', '--data-dir', dir]).catch((e: { code: number; stderr: string }) => e);
    expect('code' in r ? r.code : 0).toBe(1);
    expect((r as { stderr: string }).stderr).toMatch(/brand-demo-brand-serials" is retired: only a key in use can be rotated \[ERR_KEY_NOT_ACTIVE\]/);
  });
});
