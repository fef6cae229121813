import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveAdmin, type Listening } from '../../src/listeners.js';
import { loadConfig } from '../../src/config.js';
import { cli } from '../support/cli.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

const dir = testDataDir();

describe('the store, person, role and token commands', () => {
  describe('on the appliance (a local data directory)', () => {
    beforeAll(async () => {
      expect((await cli('init', '--data-dir', dir, '--demo', '--port', '0', '--admin-port', '0', '--store-port', '0')).code).toBe(0);
    }, 120_000);

    it('admin create makes the first Store Administrator and prints a one-time token on stdout alone', async () => {
      const r = await cli('admin', 'create', '--email', 'Ada@Demo.test', '--name', 'Ada', '--data-dir', dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^svp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n$/);
      expect(r.stderr).toContain('ada@demo.test is Store Administrator of "demo-brand"');
      const roles = await cli('role', 'list', 'demo-brand', '--data-dir', dir);
      expect(roles.stdout).toBe('ada@demo.test  admin\n');
    });

    it('builds a three-level tree and prints it', async () => {
      expect((await cli('store', 'create', 'gateways', '--parent', 'demo-brand', '--kind', 'product', '--name', 'Gateways', '--data-dir', dir)).code).toBe(0);
      expect((await cli('store', 'create', 'gateways-eu', '--parent', 'gateways', '--kind', 'product', '--data-dir', dir)).code).toBe(0);
      expect((await cli('person', 'add', 'pat@partner.test', '--name', 'Pat', '--data-dir', dir)).stdout).toMatch(/^added pat@partner.test \(id \d+\)\n$/);
      const eco = await cli('store', 'create', 'partner', '--parent', 'demo-brand', '--kind', 'ecosystem', '--admin', 'pat@partner.test', '--data-dir', dir);
      expect(eco.stdout).toBe('created ecosystem store "partner" under "demo-brand"\n');
      const tree = await cli('store', 'tree', '--data-dir', dir);
      expect(tree.stdout).toBe(
        [
          'demo-brand (brand) Demo Brand  [admin, publisher, collaborator, reviewer, viewer, security-officer]',
          '├── gateways (product) Gateways  [admin, publisher, collaborator, reviewer, viewer, security-officer]',
          '│   └── gateways-eu (product) gateways-eu  [admin, publisher, collaborator, reviewer, viewer, security-officer]',
          '└── partner (ecosystem) partner  [admin, publisher, collaborator, reviewer, viewer, security-officer]',
          '',
        ].join('\n'),
      );
      const json = JSON.parse((await cli('store', 'list', '--kind', 'product', '--json', '--data-dir', dir)).stdout) as { id: string }[];
      expect(json.map((s) => s.id)).toEqual(['gateways', 'gateways-eu']);
    });

    it('grants, lists with inheritance, and revokes roles; the last administrator stays', async () => {
      expect((await cli('role', 'grant', 'gateways', 'pat@partner.test', 'reviewer', '--data-dir', dir)).stdout).toBe('granted reviewer on "gateways" to pat@partner.test\n');
      expect((await cli('role', 'list', 'gateways-eu', '--data-dir', dir)).stdout).toBe('ada@demo.test  admin  (from demo-brand)\npat@partner.test  reviewer  (from gateways)\n');
      const bad = await cli('role', 'grant', 'gateways', 'pat@partner.test', 'overlord', '--data-dir', dir);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('"overlord" is not a role: use one of admin, publisher');
      const last = await cli('role', 'revoke', 'demo-brand', 'ada@demo.test', 'admin', '--data-dir', dir);
      expect(last.code).toBe(1);
      expect(last.stderr).toMatch(/store "demo-brand" would have no administrator left.*\[ERR_LAST_ADMIN\]/);
      expect((await cli('role', 'revoke', 'gateways', 'pat@partner.test', 'reviewer', '--data-dir', dir)).code).toBe(0);
    });

    it('creates, lists and revokes tokens for a person', async () => {
      const made = await cli('token', 'create', '--name', 'line 3', '--days', '7', '--store', 'gateways', '--role', 'admin', '--email', 'ada@demo.test', '--data-dir', dir);
      expect(made.code).toBe(0);
      expect(made.stdout).toMatch(/^svp_\S+\n$/);
      const listed = await cli('token', 'list', '--email', 'ada@demo.test', '--data-dir', dir);
      expect(listed.stdout).toMatch(/line 3 {2}\(stores gateways; roles admin\) {2}expires /);
      expect(listed.stdout).not.toContain(made.stdout.trim());
      const id = /^(\d+) .*line 3/m.exec(listed.stdout)![1]!;
      expect((await cli('token', 'revoke', id, '--data-dir', dir)).stdout).toBe(`revoked token ${id}\n`);
      expect((await cli('token', 'list', '--email', 'ada@demo.test', '--data-dir', dir)).stdout).toMatch(/line 3 .*revoked/);
    });

    it('prints the audit log, all of it or one store’s', async () => {
      const all = await cli('audit', 'list', '--data-dir', dir);
      expect(all.code).toBe(0);
      expect(all.stdout).toMatch(/operator \(cli\) {2}token\.revoke token \d+\n/);
      expect(all.stdout).toMatch(/operator \(cli\) {2}store\.create store partner \[partner\]/);
      const one = await cli('audit', 'list', '--store', 'gateways', '--data-dir', dir);
      expect(one.stdout).toContain('grant.revoke grant gateways/pat@partner.test/reviewer [gateways]');
      expect(one.stdout).not.toContain('[partner]');
      const json = JSON.parse((await cli('audit', 'list', '--limit', '2', '--json', '--data-dir', dir)).stdout) as unknown[];
      expect(json).toHaveLength(2);
    });

    it('refuses a brand id snapd would refuse, before making any key in the HSM', async () => {
      expect((await cli('authority', 'create', 'test-root', '--data-dir', dir)).code).toBe(0);
      const bad = await cli('brand', 'create', 'Bad_Brand', '--authority', 'test-root', '--data-dir', dir);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/"Bad_Brand" cannot be a brand account id.*\[ERR_INVALID_INPUT\]/);
      const config = await loadConfig(dir);
      const keys = await cli('key', 'list', '--hsm', config.hsm.uri, '--softhsm-conf', config.hsm.softhsmConf!);
      expect(keys.stdout).toContain('root-test-root');
      expect(keys.stdout).not.toContain('Bad_Brand');
    });

    it('explains what is missing instead of failing obscurely', async () => {
      const noEmail = await cli('token', 'create', '--name', 'x', '--data-dir', dir);
      expect(noEmail.stderr).toContain('name whose token it is: --email');
      const days = await cli('token', 'create', '--name', 'x', '--days', 'soon', '--email', 'ada@demo.test', '--data-dir', dir);
      expect(days.code).not.toBe(0);
      expect(days.stderr).toContain("option '--days <n>' argument 'soon' is invalid. expected a whole number.");
      const help = await cli('role', '--help');
      expect(help.stdout).toContain('Store Administrator: assigns roles');
      const remoteNoToken = await cli('store', 'list', '--url', 'http://127.0.0.1:1/');
      expect(remoteNoToken.stderr).toContain('--token-file FILE or SERIAL_VAULT_TOKEN');
    });
  });

  describe('through the admin API, with an access token', () => {
    let v: TestVault;
    let admin: Listening;
    let tokenFile: string;
    const remoteDir = testDataDir();

    beforeAll(async () => {
      v = await startTestVault(remoteDir, 'sqlite', { admin: { port: 0 } } as never);
      admin = await serveAdmin(v.vault);
      const boot = await v.vault.accounts.bootstrapAdmin({ email: 'remote@demo.test' });
      tokenFile = join(remoteDir, 'token');
      writeFileSync(tokenFile, `${boot.secret}\n`, { mode: 0o600 });
    }, 120_000);

    afterAll(async () => {
      await admin?.close();
      await v?.close();
      removeDataDir(remoteDir);
    });

    it('does the same over HTTP as the token’s owner', async () => {
      const at = ['--url', admin.url, '--token-file', tokenFile];
      expect((await cli('store', 'create', 'kiosks', '--parent', 'demo-brand', '--kind', 'product', ...at)).stdout).toBe('created product store "kiosks" under "demo-brand"\n');
      expect((await cli('person', 'add', 'kim@demo.test', ...at)).code).toBe(0);
      expect((await cli('role', 'grant', 'kiosks', 'kim@demo.test', 'publisher', ...at)).code).toBe(0);
      expect((await cli('role', 'list', 'kiosks', ...at)).stdout).toBe('remote@demo.test  admin  (from demo-brand)\nkim@demo.test  publisher\n');
      expect((await cli('store', 'tree', ...at)).stdout).toContain('└── kiosks (product) kiosks  [admin]');
      const made = await cli('token', 'create', '--name', 'script', '--days', '2', ...at);
      expect(made.stdout).toMatch(/^svp_/);
      const listed = await cli('token', 'list', '--json', ...at);
      expect((JSON.parse(listed.stdout) as { name: string }[]).map((t) => t.name)).toEqual(['bootstrap', 'script']);
      const refused = await cli('role', 'revoke', 'demo-brand', 'remote@demo.test', 'admin', ...at);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('[ERR_LAST_ADMIN]');
      // Every change is in the audit log, done by the token's owner.
      const actions = (await v.vault.db('audit_log').where({ actor: 'remote@demo.test', via: 'token' }).select('action')).map((r) => r.action);
      expect(actions).toEqual(['store.create', 'person.add', 'grant.create', 'token.create']);
    });

    it('refuses a wrong token with the server’s message', async () => {
      const wrong = join(remoteDir, 'wrong-token');
      writeFileSync(wrong, 'svp_000000000000_' + 'A'.repeat(43));
      const r = await cli('store', 'list', '--url', admin.url, '--token-file', wrong);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/access token is not valid.*\[ERR_UNAUTHENTICATED\]/);
    });
  });
});

afterAll(() => removeDataDir(dir));
