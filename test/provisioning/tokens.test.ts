import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { initToken } from '../../src/keystore/pkcs11/init-token.js';
import { findSoftHsmModule } from '../../src/keystore/pkcs11/module-path.js';
import { initDataDir } from '../../src/setup/data-dir.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

const dataDir = testDataDir();
afterAll(() => removeDataDir(dataDir));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a model signed by keys in two SoftHSM2 tokens', () => {
  let t: TestVault;
  let firstTokenDir: string;
  let extraLabel: string;
  beforeAll(async () => {
    // The embedded token, and a second one beside it in the same SoftHSM2 configuration, named in hsm.tokens.
    await initDataDir(dataDir, { port: 0, adminPort: 0, storePort: 0 });
    const tokens = join(dataDir, 'tokens');
    firstTokenDir = join(tokens, readdirSync(tokens)[0]!);
    const secret = (name: string) => readFileSync(join(dataDir, 'secrets', name), 'utf8').trim();
    initToken({ modulePath: findSoftHsmModule()!, label: 'serial-vault-2', pin: secret('user-pin'), soPin: secret('so-pin') });
    const configFile = join(dataDir, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { hsm: Record<string, unknown> };
    config.hsm['tokens'] = ['pkcs11:token=serial-vault-2?pin-source=file:secrets/user-pin'];
    writeFileSync(configFile, JSON.stringify(config));
    t = await startTestVault(dataDir, 'sqlite');
    // A second serials key, made in the second token, signs the demo model's serials beside its own key.
    const made = await t.vault.ceremonies.request(OPERATOR, 'key.create', { brand: 'demo-brand', purpose: 'serials', token: 'serial-vault-2' });
    if (made.outcome !== 'executed') throw new Error('key.create is not guarded in the demo');
    extraLabel = (made.result as { key: { label: string } }).key.label;
    await t.vault.models.addSerialKey('demo-brand', 'demo-model', extraLabel);
  }, 120_000);
  afterAll(() => t?.close());

  it('spreads signatures over both tokens; a token removed mid-run fails no registration, and signing moves to the other', async () => {
    expect(t.vault.keystore.tokens?.().map((k) => k.label)).toEqual(['serial-vault', 'serial-vault-2']);
    const keys = await deviceKeys(120, 1024);
    // A device's seed holds the model's own chain; the answer carries the chain of whichever key signed the serial.
    const seed = await t.vault.custody.brandChain('demo-brand', t.model.signKeyId);
    const answers: Array<{ signKeyId: string; accountKeys: string[] }> = [];
    const register = (deviceKey: (typeof keys)[number]) =>
      registerDevice({ url: t.url, headers: { 'api-key': t.apiKey }, model: t.model, trusted: t.trusted, seed, deviceKey }).then((r) => {
        answers.push({ signKeyId: r.serial.signKeyId, accountKeys: r.stream.filter((a) => a.type === 'account-key').map((a) => a.headerString('public-key-sha3-384')) });
        return r.serial;
      });

    const before = await Promise.all(keys.slice(0, 40).map(register));
    const signers = (serials: typeof before) => new Set(serials.map((s) => s.signKeyId));
    expect(signers(before).size).toBe(2);
    // A serial the other key signed brings the model's own account-key along, so a device holding only the root can check both.
    const byExtra = answers.find((a) => a.signKeyId !== t.model.signKeyId)!;
    expect(byExtra.accountKeys).toEqual(expect.arrayContaining([byExtra.signKeyId, t.model.signKeyId]));
    const byOwn = answers.find((a) => a.signKeyId === t.model.signKeyId)!;
    expect(byOwn.accountKeys).toEqual([t.model.signKeyId]);

    // Take the first token away while registrations run, as a pulled USB HSM.
    const away = join(dataDir, 'token-away');
    const during = Promise.all(keys.slice(40, 80).map(register));
    await sleep(50);
    renameSync(firstTokenDir, away);
    const whileAway = await during;
    const after = await Promise.all(keys.slice(80).map(register));
    expect(whileAway).toHaveLength(40);
    expect(after).toHaveLength(40);
    const extraKeyId = (await t.vault.custody.keys.byLabel(extraLabel))!.keyId;
    expect([...signers(after)]).toEqual([extraKeyId]);
    expect(t.vault.keystore.tokens?.().find((k) => k.label === 'serial-vault')?.ok).toBe(false);
    // The vault stays ready on the one token left.
    const ready = await fetch(new URL('/health/ready', t.url));
    expect(ready.status).toBe(200);
    renameSync(away, firstTokenDir);
    const serials = Number((await t.vault.db('serials').count({ n: '*' }))[0]!['n']);
    expect(serials).toBe(120);
  }, 180_000);
});
