import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHA512_DIGEST_INFO_PREFIX, decodeStream, formatRfc3339, type Assertion } from '../../src/assertions/index.js';
import { openVault } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { cli } from '../support/cli.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

/**
 * snapd's own `snap sign` (Debian's snapd package) signing with the vault's
 * HSM through SNAPD_EXT_KEYMGR, the way a brand signs a model by hand; the
 * result is checked with our codec against the vault's trust chains.
 */
const SNAP = '/usr/bin/snap';
const KEYMGR = resolve('dist/src/cli/keymgr-main.js');
const BRAND_KEY = 'brand-demo-brand-serials';

const dir = testDataDir();
const work = mkdtempSync(join(tmpdir(), 'sv-keymgr-'));
const wrapper = join(work, 'serial-vault-keymgr');
afterAll(() => {
  removeDataDir(dir);
  rmSync(work, { recursive: true, force: true });
});

interface Ran {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a program with only the environment given (no SERIAL_VAULT_TOKEN leaking in from outside), HOME a fresh directory. */
function runWith(file: string, args: string[], input: Buffer | string, env: Record<string, string> = {}): Promise<Ran> {
  const started = performance.now();
  return new Promise((res, rej) => {
    const child = spawn(file, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: work, SERIAL_VAULT_DATA_DIR: dir, SNAPD_EXT_KEYMGR: wrapper, ...env } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout: Buffer.concat(out), stderr, ms: Math.round(performance.now() - started) }));
    child.stdin.end(input);
  });
}

const modelHeaders = (model: string) => ({
  type: 'model',
  'authority-id': 'demo-brand',
  'brand-id': 'demo-brand',
  series: '16',
  model,
  architecture: 'amd64',
  gadget: 'pc',
  kernel: 'pc-kernel',
  timestamp: formatRfc3339(new Date()),
});

const snapSign = (key: string, model: string, env: Record<string, string> = {}) => runWith(SNAP, ['sign', '-k', key], JSON.stringify(modelHeaders(model)), env);
const keymgr = (args: string[], input: Buffer | string = '', env: Record<string, string> = {}) => runWith(wrapper, args, input, env);

/** Opens the vault in this process for a look at what the runs left. */
async function inVault<T>(fn: (v: Awaited<ReturnType<typeof openVault>>) => Promise<T>): Promise<T> {
  const vault = await openVault(await loadConfig(dir), { logger: pino({ level: 'silent' }) });
  try {
    return await fn(vault);
  } finally {
    await vault.close();
  }
}

/** The audit log's `key.sign` entries for a key, read from the database alone (no HSM session needed). */
async function keySigns(label = BRAND_KEY): Promise<Record<string, unknown>[]> {
  const db = openDatabase({ client: 'sqlite', filename: join(dir, 'vault.db') });
  try {
    return (await db('audit_log').where({ action: 'key.sign', target_id: label }).orderBy('seq')) as Record<string, unknown>[];
  } finally {
    await db.destroy();
  }
}

describe('serial-vault keymgr, as snap sign runs it', () => {
  let adminToken: string;
  let viewerToken: string;

  beforeAll(async () => {
    // Refuse, never skip, when the pieces are missing.
    expect(existsSync(SNAP), `${SNAP} missing: run scripts/setup-system.sh --test (the snapd package)`).toBe(true);
    expect(existsSync(KEYMGR), `${KEYMGR} missing: run npm run build first`).toBe(true);
    // What npm's bin shim does for serial-vault-keymgr: run the built entry with this node.
    writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${KEYMGR}" "$@"\n`, { mode: 0o755 });
    expect((await cli('init', '--data-dir', dir, '--demo', '--port', '0', '--admin-port', '0', '--store-port', '0')).code).toBe(0);
    adminToken = (await cli('admin', 'create', '--email', 'ada@demo.test', '--name', 'Ada', '--data-dir', dir)).stdout.trim();
    expect((await cli('person', 'add', 'pat@demo.test', '--name', 'Pat', '--data-dir', dir)).code).toBe(0);
    expect((await cli('role', 'grant', 'demo-brand', 'pat@demo.test', 'viewer', '--data-dir', dir)).code).toBe(0);
    viewerToken = (await cli('token', 'create', '--name', 'pat laptop', '--days', '1', '--email', 'pat@demo.test', '--data-dir', dir)).stdout.trim();
    expect(viewerToken).toMatch(/^svp_/);
  }, 120_000);

  it('answers features and key-names as snapd parses them, and gives the key as DER', async () => {
    const feats = await keymgr(['features']);
    expect(feats.code).toBe(0);
    expect(JSON.parse(feats.stdout.toString())).toEqual({ signing: ['RSA-PKCS'], 'public-keys': ['DER'] });
    // Brand keys only: the local root's key and the store key are not offered.
    const names = await keymgr(['key-names']);
    expect(names.stderr).toBe('');
    expect(JSON.parse(names.stdout.toString())).toEqual({ 'key-names': [BRAND_KEY] });
    const der = await keymgr(['get-public-key', '-f', 'DER', '-k', BRAND_KEY]);
    expect(der.code).toBe(0);
    const key = createPublicKey({ key: der.stdout, format: 'der', type: 'spki' });
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(4096);
  });

  it('lets snap sign sign a model with the brand key, verified through the brand chain, each signature audited', async () => {
    const before = (await keySigns()).length;
    const signed = await snapSign(BRAND_KEY, 'keymgr-model');
    expect(signed.stderr).toBe('');
    expect(signed.code).toBe(0);
    console.info(`snap sign through the vault took ${signed.ms} ms`);
    const [model] = decodeStream(signed.stdout) as [Assertion];
    expect(model.type).toBe('model');
    expect(model.headerString('model')).toBe('keymgr-model');
    await inVault(async (v) => {
      const [key] = await v.custody.keys.forBrand((await v.custody.brands.byAccountId('demo-brand'))!.id);
      expect(model.headerString('sign-key-sha3-384')).toBe(key?.keyId);
      expect((await v.custody.trust()).check(model)).toEqual({ ok: true });
    });
    const records = await keySigns();
    expect(records.length).toBe(before + 1);
    const record = records.at(-1)!;
    expect(record).toMatchObject({ actor: 'operator', via: 'cli', target_type: 'key', store_id: 'demo-brand' });
    expect(JSON.parse(String(record['after']))).toMatchObject({ digestSha512: expect.stringMatching(/^[0-9a-f]{128}$/) });
  });

  it('signs as the person SERIAL_VAULT_TOKEN names when they administer the brand store', async () => {
    const signed = await snapSign(BRAND_KEY, 'keymgr-model-2', { SERIAL_VAULT_TOKEN: adminToken });
    expect(signed.stderr).toBe('');
    expect(signed.code).toBe(0);
    expect((await keySigns()).at(-1)).toMatchObject({ actor: 'ada@demo.test', via: 'token' });
  });

  it('refuses a key the vault does not offer, naming it: an unknown name and the local root', async () => {
    for (const name of ['no-such-key', 'root-demo-root']) {
      const r = await snapSign(name, 'keymgr-model');
      expect(r.code).not.toBe(0);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toContain(`no usable key named \\"${name}\\" in the vault: serial-vault keymgr key-names lists them [ERR_KEYMGR_KEY_UNKNOWN]`);
    }
  });

  it('refuses sign input that is not DigestInfo(SHA-512) and a 64-byte digest, before anything is signed', async () => {
    const before = (await keySigns()).length;
    const sha256Prefix = Buffer.from('3031300d060960864801650304020105000420', 'hex');
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.alloc(64, 1), /cannot sign 64 bytes: sign expects 83/],
      [Buffer.concat([SHA512_DIGEST_INFO_PREFIX, Buffer.alloc(65, 1)]), /cannot sign 84 bytes/],
      [Buffer.concat([sha256Prefix, Buffer.alloc(64, 1)]), /does not start with the DigestInfo\(SHA-512\) prefix/],
    ];
    for (const [input, message] of cases) {
      const r = await keymgr(['sign', '-m', 'RSA-PKCS', '-k', BRAND_KEY], input);
      expect(r.code).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('[ERR_KEYMGR_INPUT_INVALID]');
    }
    const openpgp = await keymgr(['sign', '-m', 'OPENPGP', '-k', BRAND_KEY], Buffer.concat([SHA512_DIGEST_INFO_PREFIX, Buffer.alloc(64)]));
    expect(openpgp.stderr).toContain('the vault signs with RSA-PKCS only [ERR_KEYMGR_UNSUPPORTED]');
    expect((await keySigns()).length).toBe(before);
  });

  it('refuses a person without admin or security-officer on the brand store, and a token that signs no one in', async () => {
    const viewer = { SERIAL_VAULT_TOKEN: viewerToken };
    expect(JSON.parse((await keymgr(['key-names'], '', viewer)).stdout.toString())).toEqual({ 'key-names': [] });
    const r = await snapSign(BRAND_KEY, 'keymgr-model', viewer);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cannot sign with \\"${BRAND_KEY}\\" as pat@demo.test: that needs the role admin or security-officer on store \\"demo-brand\\" [ERR_KEYMGR_FORBIDDEN]`);
    const bogus = `${viewerToken.slice(0, -4)}AAAA`;
    const denied = await keymgr(['key-names'], '', { SERIAL_VAULT_TOKEN: bogus });
    expect(denied.code).toBe(1);
    expect(denied.stdout.length).toBe(0);
    expect(denied.stderr).toContain('cannot sign in with SERIAL_VAULT_TOKEN: the token is unknown, expired or revoked (unset it to sign as the local operator) [ERR_KEYMGR_FORBIDDEN]');
    expect(denied.stderr).not.toContain(bogus);
  });
});
