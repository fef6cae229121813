import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initDataDir } from '../../src/setup/data-dir.js';
import { removeDataDir, testDataDir } from '../support/vault.js';
import { freePort, waitUntilOk } from '../support/net.js';

const dir = testDataDir();
afterAll(() => removeDataDir(dir));
const bin = resolve('dist/src/cli/main.js');

describe('serial-vault serve', () => {
  it('stops at start on an invalid configuration, listing every problem', () => {
    const r = spawnSync(process.execPath, [bin, 'serve', '--data-dir', dir], {
      encoding: 'utf8',
      env: { ...process.env, SERIAL_VAULT_DEVICE_PORT: 'eighty', SERIAL_VAULT_LOG_LEVEL: 'loud' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid configuration|cannot read/);
  });

  it('logs JSON to a file, re-opens it on SIGHUP, and keeps secrets out of it', async () => {
    const port = await freePort();
    await initDataDir(dir, { port, adminPort: await freePort(), storePort: 0 });
    const bad = spawnSync(process.execPath, [bin, 'serve', '--data-dir', dir], {
      encoding: 'utf8',
      env: { ...process.env, SERIAL_VAULT_DEVICE_PORT: 'eighty', SERIAL_VAULT_LOG_LEVEL: 'loud' },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/SERIAL_VAULT_DEVICE_PORT: expected a whole number/);
    expect(bad.stderr).toMatch(/log\.level: /);

    const log = join(dir, 'vault.log');
    const server = spawn(process.execPath, [bin, 'serve', '--data-dir', dir], { env: { ...process.env, SERIAL_VAULT_LOG_FILE: log }, stdio: 'ignore' });
    const exited = new Promise((r) => server.once('exit', r));
    try {
      const up = await waitUntilOk(`http://127.0.0.1:${port}/v1/version`, 100);
      expect(up).toBe(true);
      await fetch(`http://127.0.0.1:${port}/v1/request-id`, { method: 'POST', headers: { 'api-key': 'sv_0123456789ab_secretsecretsecretsecretsecret12' } });
      renameSync(log, `${log}.1`);
      server.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 300));
      await fetch(`http://127.0.0.1:${port}/v1/version`);
      await new Promise((r) => setTimeout(r, 300));
      expect(existsSync(log)).toBe(true);
      const fresh = readFileSync(log, 'utf8');
      expect(fresh).toContain('log file re-opened');
      expect(fresh).toContain('"path":"/v1/version"');
      const old = readFileSync(`${log}.1`, 'utf8');
      const line = JSON.parse(old.split('\n').find((l) => l.includes('/v1/request-id'))!) as Record<string, unknown>;
      expect(line).toMatchObject({ status: 401, method: 'POST' });
      const all = old + fresh;
      expect(all).not.toContain('secretsecret');
      expect(all).not.toContain(readFileSync(join(dir, 'secrets', 'user-pin'), 'utf8').trim());
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
  });
});
