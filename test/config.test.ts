import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SNAP_SETTINGS } from '../src/cli/commands/snap.js';
import { ConfigError, ENV, configOptions, loadConfig, maskedConfig, parseConfig } from '../src/config.js';
import { cli } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sv-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (value: unknown) => writeFileSync(join(dir, 'config.json'), JSON.stringify(value));
const good = { hsm: { uri: 'pkcs11:token=serial-vault?pin-source=file:/secret/pin' } };

describe('configuration', () => {
  it('fills in documented defaults', async () => {
    write(good);
    const config = await loadConfig(dir, {}, {});
    expect(config.device).toEqual({ host: '127.0.0.1', port: 8080, basePath: '/v1/', maxInFlight: 1000, maxBodyBytes: 262144, requestIdTtlSeconds: 600, bodyTimeoutSeconds: 10, headersTimeoutSeconds: 10, answerWithinSeconds: 5, queueMax: 1000, keepAnswersMinutes: 10 });
    expect(config.hsm.tokens).toEqual([]);
    expect(config.database).toEqual({ client: 'sqlite', busyTimeoutMs: 5000 });
  });

  it('checks single sign-on settings as a whole, and finds the client secret file in the data directory', async () => {
    write({ ...good, sso: { issuer: 'not a url' }, admin: { publicUrl: 'ftp://vault.example/' } });
    const err = (await loadConfig(dir, {}, {}).catch((e: unknown) => e)) as ConfigError;
    expect(err.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^sso\.issuer: /), expect.stringMatching(/^sso\.clientId: /), expect.stringMatching(/^admin\.publicUrl: /)]));
    write({ ...good, sso: { issuer: 'https://login.example/', clientId: 'vault', clientSecretFile: 'secrets/sso' } });
    const config = await loadConfig(dir, {}, {});
    expect(config.sso).toEqual({ issuer: 'https://login.example/', clientId: 'vault', clientSecretFile: join(dir, 'secrets', 'sso'), scopes: 'openid email profile' });
    expect(config.admin).toMatchObject({ sessionHours: 8, maxTokenDays: 365 });
  });

  it('takes SERIAL_VAULT_* variables over the file', async () => {
    write(good);
    const config = await loadConfig(dir, {}, { SERIAL_VAULT_DEVICE_PORT: '9090', SERIAL_VAULT_DATABASE_URL: 'postgres://vault:s3cret@db/vault' });
    expect(config.device.port).toBe(9090);
    expect(config.database).toEqual({ client: 'pg', connection: 'postgres://vault:s3cret@db/vault' });
    expect(JSON.stringify(maskedConfig(config))).not.toContain('s3cret');
  });

  it('lists every problem, from the file and the environment, with its path', async () => {
    write({ hsm: { uri: 'not-a-uri' }, device: { port: 70000, basePath: 'v1' }, log: { level: 'loud' } });
    const err = (await loadConfig(dir, {}, { SERIAL_VAULT_HSM_SIGNERS: 'many' }).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^SERIAL_VAULT_HSM_SIGNERS: expected a whole number/),
        expect.stringMatching(/^hsm\.uri: /),
        expect.stringMatching(/^device\.port: /),
        expect.stringMatching(/^device\.basePath: must start and end with "\/"/),
        expect.stringMatching(/^log\.level: /),
      ]),
    );
  });

  it('config check says what is wrong and exits 2; config show masks passwords', async () => {
    write({ hsm: { uri: 'nope' } });
    const bad = await cli('config', 'check', '--data-dir', dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid configuration:\n {2}- hsm\.uri: /);
    write({ ...good, database: { client: 'pg', connection: 'postgres://vault:hunter2@db/vault' } });
    expect((await cli('config', 'check', '--data-dir', dir)).stdout).toBe('configuration ok\n');
    const shown = await cli('config', 'show', '--data-dir', dir);
    expect(shown.stdout).toContain('postgres://vault:***@db/vault');
    expect(shown.stdout).not.toContain('hunter2');
  });
});

describe('the schema as the one source of the option tables', () => {
  it('refuses a key it does not know, anywhere, naming it', () => {
    expect(() => parseConfig({ dataDir: '/x', hsm: { uri: 'pkcs11:token=a' }, device: { prot: 1 }, extra: true })).toThrow(
      expect.objectContaining({ problems: expect.arrayContaining(['device: Unrecognized key: "prot"', '(root): Unrecognized key: "extra"']) }),
    );
  });

  it('draws the environment and snap set tables from the options, each with a description', () => {
    const options = configOptions();
    expect(ENV.find(([name]) => name === 'SERIAL_VAULT_DEVICE_PORT')).toEqual(['SERIAL_VAULT_DEVICE_PORT', ['device', 'port'], 'number']);
    expect(SNAP_SETTINGS['device.body-timeout']).toEqual(['device', 'bodyTimeoutSeconds']);
    for (const o of options.filter((x) => x.env || x.snap)) expect(o.description, o.path.join('.')).toMatch(/\w{3}/);
    // Each variable and snap key is used once.
    expect(new Set(ENV.map(([n]) => n)).size).toBe(ENV.length);
    expect(new Set(options.flatMap((o) => (o.snap ? [o.snap] : []))).size).toBe(Object.keys(SNAP_SETTINGS).length);
  });
});
