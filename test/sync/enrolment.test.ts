import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAssertion } from '../../src/assertions/index.js';
import { openVault, type Vault } from '../../src/app.js';
import { OPERATOR_ACTOR } from '../../src/audit/unit-of-work.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config.js';
import { initDataDir } from '../../src/setup/data-dir.js';
import { candidateKeys } from '../../src/provisioning/issuance-plan.js';
import { ApplianceService } from '../../src/sync/appliances.js';
import { applianceIdentity, enrolAppliance } from '../../src/sync/enrol-client.js';
import { captureLogger, removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';
import { enrolBody, errorCode, nodeAppliance, post, startSyncCentral, type SyncCentral } from './enrol-fixtures.js';

const cli = async (...argv: string[]) => {
  let out = '';
  let err = '';
  const status = await run(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), readFile: async (p) => readFileSync(p) });
  return { status, out, err };
};

describe('enrolling an appliance with central', () => {
  const dir = testDataDir();
  const centralDir = join(dir, 'central');
  const applianceDir = join(dir, 'appliance');
  let central: TestVault;
  let sync: SyncCentral;
  let appliance: Vault;

  beforeAll(async () => {
    // The appliance's own token, beside central's in one SoftHSM2 configuration (one per test process).
    await initDataDir(centralDir, { port: 0, adminPort: 0, storePort: 0 });
    const conf = join(centralDir, 'softhsm2.conf');
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'appliance-a', '--so-pin', '5678-so', '--pin', '1234-user'], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'ignore' });
    mkdirSync(join(applianceDir, 'secrets'), { recursive: true });
    writeFileSync(join(applianceDir, 'secrets', 'pin'), '1234-user\n', { mode: 0o600 });
    writeFileSync(join(applianceDir, 'config.json'), JSON.stringify({ database: { client: 'sqlite', filename: 'vault.db' }, hsm: { uri: 'pkcs11:token=appliance-a?pin-source=file:secrets/pin', softhsmConf: conf }, device: { port: 0 }, admin: { port: 0 }, store: { port: 0 } }), { mode: 0o600 });
    central = await startTestVault(centralDir, 'sqlite');
    sync = await startSyncCentral(central);
  }, 120_000);

  afterAll(async () => {
    await appliance?.close();
    await sync?.close();
    await central?.close();
    removeDataDir(dir);
  });

  it('enrols with a one-time token: keys made in the appliance HSM, account-keys signed by central’s authority, upstream set', async () => {
    const { token, appliance: added } = await sync.appliances.add('line-a', 'demo-brand', OPERATOR_ACTOR);
    expect(added).toMatchObject({ name: 'line-a', store: 'demo-brand', brand: 'demo-brand', state: 'active', enrolled: false });
    writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
    const enrolled = await cli('appliance', 'enrol', '--data-dir', applianceDir, '--upstream', sync.url, '--token-file', join(dir, 'token'), '--json');
    expect(enrolled.err).toBe('');
    expect(enrolled.status).toBe(0);
    const result = JSON.parse(enrolled.out) as { appliance: { name: string }; accountKeys: string[] };
    expect(result.appliance.name).toBe('line-a');
    expect(result.accountKeys).toHaveLength(1);
    // The account-key verifies against central's roots, for a key whose private half only the appliance holds.
    const accountKey = decodeAssertion(Buffer.from(result.accountKeys[0]!, 'utf8'));
    expect((await central.vault.custody.trust()).check(accountKey).ok).toBe(true);
    expect(accountKey.headerString('name')).toBe('appliance-line-a');
    const held = (await central.vault.custody.keys.all()).filter((k) => k.heldBy === 'line-a');
    expect(held.map((k) => [k.label, k.purpose, k.state])).toEqual([
      ['appliance-line-a-identity', 'appliance', 'active'],
      ['appliance-line-a-serials', 'serials', 'active'],
    ]);
    expect(await central.vault.keystore.find('appliance-line-a-serials')).toBeUndefined();
    // Its settings and config say who it is and where central is.
    appliance = await openVault(await loadConfig(applianceDir), { logger: captureLogger().logger });
    expect(await applianceIdentity(appliance.db)).toEqual({ name: 'line-a', label: 'appliance-line-a-identity' });
    expect((await appliance.keystore.find('appliance-line-a-serials'))?.keyId).toBe(held[1]!.keyId);
    expect(appliance.config.upstream?.url).toBe(sync.url);
    expect((await sync.appliances.show('line-a')).enrolled).toBe(true);
  });

  it('refuses a reused token, and enrolment of a vault that is not empty', async () => {
    const token = readFileSync(join(dir, 'token'), 'utf8').trim();
    const reused = await post(sync.url, 'sync/v1/enrol/preview', { token });
    expect(reused.status).toBe(401);
    expect(errorCode(reused.body)).toBe('ERR_ENROLMENT_TOKEN_INVALID');
    const { token: fresh } = await sync.appliances.add('line-b', 'demo-brand', OPERATOR_ACTOR);
    await expect(enrolAppliance({ db: appliance.db, keystore: appliance.keystore, dataDir: applianceDir }, { upstream: sync.url, token: fresh })).rejects.toMatchObject({ code: 'ERR_ENROLMENT_NOT_EMPTY' });
    await expect(enrolAppliance({ db: central.vault.db, keystore: central.vault.keystore, dataDir: centralDir }, { upstream: sync.url, token: fresh })).rejects.toMatchObject({ code: 'ERR_ENROLMENT_NOT_EMPTY' });
  });

  it('refuses an expired or unknown token, a token for another name, a forged proof and a forged account-key-request', async () => {
    const past = new ApplianceService(central.vault.db, { clock: () => new Date(Date.now() - 2 * 3600_000) });
    const { token: expired } = await past.add('line-old', 'demo-brand', OPERATOR_ACTOR, { expiresHours: 1 });
    for (const body of [{ token: expired }, { token: 'sve_unknown' }]) {
      const res = await post(sync.url, 'sync/v1/enrol/preview', body);
      expect(errorCode(res.body)).toBe('ERR_ENROLMENT_TOKEN_INVALID');
    }
    const { token } = await sync.appliances.add('line-c', 'demo-brand', OPERATOR_ACTOR);
    const keys = await nodeAppliance();
    const good = await enrolBody(keys, token, 'line-c', 'demo-brand');
    expect(errorCode((await post(sync.url, 'sync/v1/enrol', { ...good, name: 'line-b' })).body)).toBe('ERR_ENROLMENT_TOKEN_INVALID');
    const other = await nodeAppliance();
    const forgedProof = await post(sync.url, 'sync/v1/enrol', { ...good, proof: (await enrolBody(other, token, 'line-c', 'demo-brand'))['proof'] });
    expect(forgedProof.status).toBe(401);
    expect(errorCode(forgedProof.body)).toBe('ERR_APPLIANCE_AUTH');
    const serial = (good['serialKeys'] as Array<Record<string, string>>)[0]!;
    const text = serial['accountKeyRequest']!;
    const tampered = text.replace(/\n\n([A-Za-z0-9+/])/, (_, c: string) => `\n\n${c === 'A' ? 'B' : 'A'}`);
    const forgedRequest = await post(sync.url, 'sync/v1/enrol', { ...good, serialKeys: [{ ...serial, accountKeyRequest: tampered }] });
    expect(errorCode(forgedRequest.body)).toBe('ERR_APPLIANCE_AUTH');
    // None of that spent the token: the honest enrolment goes through, once.
    expect((await post(sync.url, 'sync/v1/enrol', good)).status).toBe(201);
    expect(errorCode((await post(sync.url, 'sync/v1/enrol', good)).body)).toBe('ERR_ENROLMENT_TOKEN_INVALID');
  });

  it('refuses an oversized enrolment with 413', async () => {
    const res = await post(sync.url, 'sync/v1/enrol', { token: 'x', padding: 'x'.repeat(100 * 1024) });
    expect(res.status).toBe(413);
    expect(errorCode(res.body)).toBe('ERR_BODY_TOO_LARGE');
  });

  it('signs serials on central only with keys its own HSM holds, and on an appliance with the serial keys held there', async () => {
    const keys = await central.vault.custody.keys.all();
    const model = (await central.vault.models.list()).find((m) => m.name === 'demo-model')!;
    const now = new Date(Date.now() + 2000);
    const held = keys.find((k) => k.label === 'appliance-line-a-serials')!;
    expect(candidateKeys([model.signingKeyId, held.id], keys, now, () => true, 0).map((k) => k.heldBy)).toEqual([undefined]);
    expect(candidateKeys([model.signingKeyId], keys, now, () => true, 0, 'line-a').map((k) => k.label)).toEqual(['appliance-line-a-serials']);
    const health = await central.vault.keyHealth();
    expect(health.filter((f) => f.kind === 'key-missing-from-hsm' && f.subject.startsWith('appliance-'))).toEqual([]);
  });
});
