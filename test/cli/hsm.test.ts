import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { SOFTHSM_MODULE, cleanupSoftHsm, softhsmRoot } from '../support/softhsm.js';

const root = softhsmRoot();
afterAll(() => cleanupSoftHsm());

function secret(name: string, value: string): string {
  const path = join(root, name);
  writeFileSync(path, `${value}\n`);
  chmodSync(path, 0o600);
  return path;
}

const pinFile = secret('cli.pin', 'cli-user-PIN-7731');
const soPinFile = secret('cli.so-pin', 'cli-so-PIN-9920');
const uri = `pkcs11:token=cli-vault?module-path=${SOFTHSM_MODULE}&pin-source=file:${pinFile}`;

describe('serial-vault hsm and key commands on SoftHSM2', () => {
  it('init-token creates the token, then finds it again (idempotent)', async () => {
    const first = await cli('hsm', 'init-token', '--label', 'cli-vault', '--pin-file', pinFile, '--so-pin-file', soPinFile);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/^created token "cli-vault" \(serial [0-9a-f]+\)/);
    const again = await cli('hsm', 'init-token', '--label', 'cli-vault', '--pin-file', pinFile, '--so-pin-file', soPinFile);
    expect(again.stdout).toMatch(/already exists .* the PIN opens it/);
    expect(again.code).toBe(0);
  });

  it('status reports the token and the login', async () => {
    const { code, stdout } = await cli('hsm', 'status', '--hsm', uri);
    expect(stdout).toMatch(/token:\s+cli-vault \(serial /);
    expect(stdout).toMatch(/logged in:\s+yes/);
    expect(stdout).toMatch(/status:\s+ok/);
    expect(code).toBe(0);
  });

  it('key generate prints the snapd key id and public key; list and show find it', async () => {
    const gen = await cli('key', 'generate', 'brand-2026', '--hsm', uri, '--json');
    expect(gen.code).toBe(0);
    expect(gen.stderr).toMatch(/generating an RSA-4096 key/);
    const key = JSON.parse(gen.stdout) as { keyId: string; publicKey: string; bits: number };
    expect(key.bits).toBe(4096);
    expect(key.keyId).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(key.publicKey).toMatch(/^AcbBTQRWhcGAARAA/);
    const list = await cli('key', 'list', '--hsm', uri);
    expect(list.stdout).toContain(`brand-2026`);
    expect(list.stdout).toContain(key.keyId);
    const show = await cli('key', 'show', 'pkcs11:object=brand-2026', '--hsm', uri);
    expect(show.stdout).toContain(`key id:      ${key.keyId}`);
    const missing = await cli('key', 'show', 'nope', '--hsm', uri);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ERR_KEY_NOT_FOUND/);
  });

  it('a wrong PIN is a login error, and the PIN is never printed', async () => {
    const wrong = secret('wrong.pin', 'wrong-PIN-4242');
    const { code, stdout, stderr } = await cli('hsm', 'status', '--hsm', uri.replace(pinFile, wrong));
    expect(code).toBe(1);
    expect(stderr).toMatch(/ERR_HSM_LOGIN_FAILED/);
    expect(stdout + stderr).not.toContain('wrong-PIN-4242');
    expect(stdout + stderr).not.toContain('cli-user-PIN-7731');
  });

  it('asks for an HSM URI when none is given', async () => {
    const saved = process.env['SERIAL_VAULT_HSM_URI'];
    delete process.env['SERIAL_VAULT_HSM_URI'];
    const { code, stderr } = await cli('key', 'list');
    if (saved !== undefined) process.env['SERIAL_VAULT_HSM_URI'] = saved;
    expect(code).toBe(2);
    expect(stderr).toMatch(/no HSM given/);
  });
});

describe('hsm/setup-token.sh', () => {
  it('creates the embedded token with random PINs in files, and is idempotent', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, statSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const data = mkdtempSync(join(tmpdir(), 'sv-setup-'));
    try {
      const run = () => execFileSync('hsm/setup-token.sh', [data, 'embedded'], { encoding: 'utf8', env: { ...process.env, SOFTHSM2_CONF: '' } });
      expect(run()).toMatch(/created token "embedded"/);
      expect(run()).toMatch(/already exists/);
      expect(statSync(join(data, 'secrets', 'user-pin')).mode & 0o777).toBe(0o600);
      expect(statSync(join(data, 'tokens')).mode & 0o777).toBe(0o700);
      expect(readFileSync(join(data, 'softhsm2.conf'), 'utf8')).toContain(`directories.tokendir = ${join(data, 'tokens')}`);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
