import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { TrustDatabase, decodeAssertion, formatRfc3339, isCanonical, type Assertion } from '../../src/assertions/index.js';
import { systemUserCommand } from '../../src/cli/commands/system-user.js';
import { CliError } from '../../src/cli/io.js';
import { VaultError } from '../../src/errors.js';
import { openApiDocument } from '../../src/http/admin/openapi.js';
import type { FileAnswer } from '../../src/http/admin/route.js';
import { systemUserRoutes } from '../../src/http/admin/routes/system-users.js';
import { verifySha512Crypt } from '../../src/provisioning/sha512-crypt.js';
import { SystemUserService, type SystemUserInput } from '../../src/provisioning/system-users.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

const BRAND = 'demo-brand';
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5Zm9yZmFjdG9yeWxpbmVzAAAAAAAAAAAA factory@line-1';
/** One good request; each refusal below changes one field of it. */
const GOOD: SystemUserInput = { brand: BRAND, email: 'factory@demo.test', username: 'factory', models: ['demo-model'], sshKeys: [SSH_KEY] };

/** openssl's SHA-512 crypt of a password (on standard input) with a given salt. */
const openssl = (password: string, salt: string) =>
  new Promise<string>((resolve, reject) => {
    execFile('/usr/bin/openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { encoding: 'utf8' }, (e, out) => (e ? reject(e) : resolve(out.trim()))).stdin?.end(`${password}\n`);
  });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof VaultError) return `${e.code}: ${e.message}`;
    throw e;
  }
}

/**
 * system-user assertions for factory service accounts, on a real SoftHSM2
 * token and SQLite: what devices import must decode with snapd's rules and
 * verify through the brand's chain to the trusted root.
 */
describe('system-user assertions', () => {
  const dir = testDataDir();
  let tv: TestVault;
  let service: SystemUserService;
  /** The service's clock, fixed once the brand's keys exist (they sign from the second they were made). */
  let now: Date;

  /** What a device holds: the trusted root, then the brand's account and the account-key that signed `a`. */
  const verifies = async (a: Assertion) => {
    const db = new TrustDatabase({ trusted: tv.trusted });
    for (const r of db.addBatch(await tv.vault.custody.brandChain(BRAND, a.signKeyId))) expect(r.error).toBeUndefined();
    return db.check(a);
  };
  const auditRows = () => tv.vault.db('audit_log').where({ action: 'system-user.create' }).orderBy('seq');

  beforeAll(async () => {
    tv = await startTestVault(dir, 'sqlite');
    now = new Date(Math.floor(Date.now() / 1000) * 1000);
    service = new SystemUserService(tv.vault.db, tv.vault.custody, () => now);
    await tv.vault.models.createModel({ 'brand-id': BRAND, model: 'demo-gateway', architecture: 'arm64', gadget: 'pc', kernel: 'pc-kernel' }, { checkCatalog: false });
  }, 120_000);

  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  it("is signed by the brand's models key, decodes with our codec and verifies through the brand's chain", async () => {
    const a = await service.create(GOOD);
    const decoded = decodeAssertion(a.encode());
    expect(decoded.is('system-user') && isCanonical(decoded)).toBe(true);
    expect(decoded.headers).toMatchObject({ 'authority-id': BRAND, 'brand-id': BRAND, email: 'factory@demo.test', username: 'factory', name: 'factory', models: ['demo-model'], series: ['16'], 'ssh-keys': [SSH_KEY], since: formatRfc3339(now) });
    expect(a.format).toBe(0);
    expect(a.revision).toBe(0);
    expect(a.view.until.getTime() - a.view.since.getTime()).toBe(365 * 86_400_000);
    const brand = (await tv.vault.custody.brands.byAccountId(BRAND))!;
    expect(a.signKeyId).toBe((await tv.vault.custody.brandKey(brand, undefined, 'models')).keyId);
    expect(await verifies(decoded)).toEqual({ ok: true });
  });

  it('is format 1 when it names serials, which then need exactly one model', async () => {
    const a = await service.create({ ...GOOD, email: 'line-2@demo.test', serials: ['DEMO-000001', 'DEMO-000002'] });
    expect(a.format).toBe(1);
    expect(a.view.serials).toEqual(['DEMO-000001', 'DEMO-000002']);
    expect(await verifies(a)).toEqual({ ok: true });
    expect(await refusal(service.create({ ...GOOD, models: ['demo-model', 'demo-gateway'], serials: ['DEMO-000001'] }))).toBe(
      'ERR_SYSTEM_USER_INVALID: "serials" limits the user to some devices of one model, but 2 models are named: issue one system-user per model',
    );
  });

  it('gives a re-issue for the same brand and email the next revision, kept in place of the last', async () => {
    const first = await service.get(BRAND, 'factory@demo.test');
    const again = await service.create({ ...GOOD, models: ['demo-model', 'demo-gateway'], name: 'Factory Line' });
    expect(again.revision).toBe(first.revision + 1);
    expect((await service.get(BRAND, 'factory@demo.test')).encode().equals(again.encode())).toBe(true);
    expect((await service.list(BRAND)).map((a) => `${a.view.email} ${a.revision}`)).toEqual(['factory@demo.test 1', 'line-2@demo.test 0']);
    // A device that has the first takes the second as newer.
    const db = new TrustDatabase({ trusted: tv.trusted });
    db.addBatch(await tv.vault.custody.brandChain(BRAND, again.signKeyId));
    db.add(first);
    db.add(again);
    expect(db.find('system-user', [BRAND, 'factory@demo.test'])?.revision).toBe(1);
    // Two re-issues at once: the one that loses signs again on top of the other.
    const raced = await Promise.all([0, 1, 2].map(() => service.create({ ...GOOD, email: 'race@demo.test' })));
    expect(raced.map((a) => a.revision).sort()).toEqual([0, 1, 2]);
    expect((await service.get(BRAND, 'race@demo.test')).revision).toBe(2);
  });

  it("hashes a plain password with SHA-512 crypt as openssl does, and keeps neither it nor its hash in the audit log", async () => {
    const password = 'correct horse battery staple';
    const a = await service.create({ ...GOOD, email: 'service@demo.test', sshKeys: [], password, forcePasswordChange: true });
    const hash = a.view.password;
    expect(hash).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(await openssl(password, hash.split('$')[2]!)).toBe(hash);
    expect(verifySha512Crypt(password, hash)).toBe(true);
    expect(a.view.forcePasswordChange).toBe(true);
    const row = (await auditRows().where({ target_id: `${BRAND}/service@demo.test` }).first()) as Record<string, unknown>;
    expect(row).toMatchObject({ actor: 'operator', target_type: 'system-user', store_id: BRAND });
    expect(JSON.parse(String(row['after']))).toMatchObject({ revision: 0, username: 'factory', password: true, forcePasswordChange: true, sshKeys: 0 });
    const everything = JSON.stringify(await tv.vault.db('audit_log').select('*')) + tv.logs();
    for (const secret of [password, hash, hash.split('$')[3]!]) expect(everything).not.toContain(secret);
  });

  it('takes a hash made elsewhere as it is, rounds and all', async () => {
    const hash = await openssl('factory-pin', 'rounds=10000$abcdefgh12345678');
    const a = await service.create({ ...GOOD, email: 'hashed@demo.test', passwordHash: hash });
    expect(a.view.password).toBe(hash);
    expect(a.view.sshKeys).toEqual([SSH_KEY]);
  });

  it('refuses what devices would refuse, or could not use, saying which field and why, and writes nothing', async () => {
    const before = (await auditRows()).length;
    const refused = async (change: Partial<SystemUserInput>) => (await refusal(service.create({ ...GOOD, ...change }))).replace(/^ERR_SYSTEM_USER_INVALID: /, '');
    expect(await refused({ models: [] })).toMatch(/^"models" must name at least one model of the brand/);
    expect(await refused({ models: ['no-such-model'] })).toBe('ERR_MODEL_UNKNOWN: "models": brand "demo-brand" has no model "no-such-model" in this vault');
    expect(await refused({ sshKeys: [] })).toBe('the user needs a way to log in: give "sshKeys", a "password" or a "passwordHash"');
    expect(await refused({ since: new Date(now.getTime() + 86_400_000), until: now })).toMatch(/^"until" \(.*\) must be after "since" \(.*\)$/);
    expect(await refused({ since: new Date('2020-01-01T00:00:00Z'), until: new Date('2021-01-01T00:00:00Z') })).toBe('"until" (2021-01-01T00:00:00Z) is in the past: devices would refuse the assertion');
    expect(await refused({ email: 'not an email' })).toBe('"email" must be a plain address like factory@example.com, not "not an email"');
    expect(await refused({ email: 'Factory <factory@demo.test>' })).toMatch(/^"email" must be a plain address/);
    expect(await refused({ username: 'Factory' })).toMatch(/^"username" must start with a lower-case letter or digit/);
    expect(await refused({ username: 'f'.repeat(33) })).toBe('"username" has 33 characters: devices refuse more than 32');
    expect(await refused({ name: 'Line 1: night shift' })).toMatch(/^"name" must not be empty, nor hold ":"/);
    expect(await refused({ forcePasswordChange: true })).toBe('"forcePasswordChange" needs a "password" or "passwordHash" to change');
    expect(await refused({ password: 'x', passwordHash: '$6$salt$hash' })).toBe('give "password" or "passwordHash", not both');
    expect(await refused({ password: 'ü'.repeat(256) })).toMatch(/^"password" is longer than 511 bytes: the devices' crypt\(3\) refuses/);
    expect(await refused({ passwordHash: '$1$salt$hash' })).toBe('"passwordHash" uses crypt method $1$: snapd accepts only $6$ (SHA-512) or stronger');
    expect(await refused({ passwordHash: '$6$rounds=4999$salt$hash' })).toBe('"passwordHash" has rounds=4999: snapd accepts 5000 to 999999999');
    expect(await refused({ passwordHash: '$6$salt$hash' })).toMatch(/^"passwordHash" is not a SHA-512 crypt hash/);
    expect(await refused({ passwordHash: 'hunter2' })).toMatch(/^"passwordHash" must be a crypt\(3\) hash/);
    expect(await refused({ sshKeys: ['-----BEGIN OPENSSH PRIVATE KEY-----'] })).toMatch(/^"sshKeys" holds a private key/);
    expect(await refused({ brand: 'no-such-brand' })).toBe('ERR_MODEL_BRAND_UNKNOWN: brand "no-such-brand" is not set up in this vault');
    expect((await auditRows()).length).toBe(before);
    expect(await refusal(service.get(BRAND, 'nobody@demo.test'))).toBe('ERR_SYSTEM_USER_UNKNOWN: brand "demo-brand" has issued no system-user for "nobody@demo.test"');
  });

  it('answers the admin API: issue with a JSON body, list, and one assertion as application/x.ubuntu.assertion', async () => {
    const routes = systemUserRoutes(service);
    const find = (method: string, path: string) => routes.find((r) => r.method === method && r.path === path)!;
    const post = find('post', '/api/v1/brands/:brand/system-users');
    const json = { email: 'api@demo.test', username: 'api', models: ['demo-gateway'], password: 's3cret', until: '2099-01-01T00:00:00Z' };
    const body = post.body!.parse(json);
    const issued = (await post.handle({ params: { brand: BRAND }, query: undefined, body, principal: OPERATOR })) as { revision: number; assertion: string };
    expect(issued.revision).toBe(0);
    expect(decodeAssertion(Buffer.from(issued.assertion)).headerString('until')).toBe('2099-01-01T00:00:00Z');
    expect(post.body!.safeParse({ ...json, until: 'next year' }).success).toBe(false);
    const list = (await find('get', '/api/v1/brands/:brand/system-users').handle({ params: { brand: BRAND }, query: undefined, body: undefined, principal: OPERATOR })) as { items: Array<{ email: string; password: boolean }> };
    expect(list.items.find((i) => i.email === 'api@demo.test')).toMatchObject({ password: true });
    expect(JSON.stringify(list)).not.toContain('$6$');
    const one = find('get', '/api/v1/brands/:brand/system-users/:email');
    expect(one.answersFile).toBe('application/x.ubuntu.assertion');
    const file = (await one.handle({ params: { brand: BRAND, email: 'api@demo.test' }, query: undefined, body: undefined, principal: OPERATOR })) as FileAnswer;
    const chunks: Buffer[] = [];
    for await (const c of file.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(issued.assertion);
    expect(file.length).toBe(Buffer.byteLength(issued.assertion));
    // The OpenAPI document is drawn from the same routes: times are strings there, the assertion a file.
    const doc = openApiDocument(routes, '0') as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { schemas: Record<string, { properties: Record<string, { type?: string }> }> } };
    expect(doc.components.schemas['NewSystemUser']!.properties['since']).toMatchObject({ type: 'string' });
    expect(doc.paths['/api/v1/brands/{brand}/system-users/{email}']!['get']!.responses['200']).toMatchObject({ content: { 'application/x.ubuntu.assertion': {} } });
  });

  it('is issued from the command line with key and password files, written to --out with its revision on stderr', async () => {
    const run = async (...argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t), readFile: async (p: string) => readFileSync(p) };
      const program = new Command('serial-vault').exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).addCommand(systemUserCommand(io));
      for (const sub of program.commands[0]!.commands) sub.copyInheritedSettings(program);
      try {
        await program.parseAsync(['system-user', ...argv, '--data-dir', dir], { from: 'user' });
        return { code: 0, stdout, stderr };
      } catch (e) {
        if (e instanceof CliError) return { code: e.exitCode, stdout, stderr: `${stderr}${e.message}` };
        throw e;
      }
    };
    writeFileSync(join(dir, 'keys.pub'), `# line 3\n${SSH_KEY}\n\n`);
    writeFileSync(join(dir, 'password'), 'line-3-pin\n');
    const out = join(dir, 'line-3.assert');
    const made = await run('create', '--brand', BRAND, '--email', 'line-3@demo.test', '--username', 'line3', '--model', 'demo-model', '--model', 'demo-gateway', '--ssh-key-file', join(dir, 'keys.pub'), '--password-file', join(dir, 'password'), '--out', out);
    expect(made).toMatchObject({ code: 0, stdout: '' });
    expect(made.stderr).toMatch(/^system-user demo-brand\/line-3@demo.test revision 0, valid \S+ – \S+\n$/);
    const a = decodeAssertion(readFileSync(out));
    expect(a.header('models')).toEqual(['demo-model', 'demo-gateway']);
    expect(a.header('ssh-keys')).toEqual([SSH_KEY]);
    expect(verifySha512Crypt('line-3-pin', a.headerString('password'))).toBe(true);
    expect((await run('show', '--brand', BRAND, '--email', 'line-3@demo.test')).stdout).toBe(readFileSync(out, 'utf8'));
    expect((await run('list', '--brand', BRAND)).stdout).toContain('line-3@demo.test  line3  revision 0  demo-model, demo-gateway  1 ssh key and password');
    const bad = await run('create', '--brand', BRAND, '--email', 'line-4@demo.test', '--username', 'line4', '--model', 'demo-model');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('the user needs a way to log in: give "sshKeys", a "password" or a "passwordHash" [ERR_SYSTEM_USER_INVALID]');
  });
});
