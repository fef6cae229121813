import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAssertion } from '../../src/assertions/index.js';
import { serveAdmin, type Listening } from '../../src/listeners.js';
import { cli } from '../support/cli.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

describe('the station, apikey, remodel, report and system-user commands', () => {
  const dir = testDataDir();
  beforeAll(async () => {
    expect((await cli('init', '--data-dir', dir, '--demo', '--port', '0', '--admin-port', '0', '--store-port', '0')).code).toBe(0);
  }, 120_000);
  afterAll(() => removeDataDir(dir));

  it('station create prints the station on stderr and its first API key alone on the last line of stdout', async () => {
    const r = await cli('station', 'create', 'line-1', '--model', 'demo-brand/demo-model', '--per-hour', '100', '--total', '5000', '--pattern', 'DEMO-[0-9]+', '--data-dir', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sv_[0-9a-f]{12}_[A-Za-z0-9_-]{32}\n$/);
    expect(r.stderr).toContain('station demo-brand/line-1');
    expect(r.stderr).toContain('quotas:       per hour 100, per day no limit, total 5000');
    const more = await cli('apikey', 'create', '--station', 'line-1', '--brand', 'demo-brand', '--name', 'spare', '--data-dir', dir);
    expect(more.stdout).toMatch(/^sv_[0-9a-f]{12}_/);
    const shown = await cli('station', 'show', 'line-1', '--brand', 'demo-brand', '--json', '--data-dir', dir);
    const view = JSON.parse(shown.stdout) as { apiKeys: unknown[]; usage: Array<{ window: string; used: number }> };
    expect(view.apiKeys).toHaveLength(2);
    expect(view.usage.find((u) => u.window === 'total')?.used).toBe(0);
  });

  it('station update changes limits ("none" clears them) and disable stops the line', async () => {
    const r = await cli('station', 'update', 'line-1', '--brand', 'demo-brand', '--per-hour', 'none', '--until', '2030-01-01T00:00:00Z', '--data-dir', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('per hour no limit');
    expect(r.stdout).toContain('– 2030-01-01T00:00:00Z');
    expect((await cli('station', 'disable', 'line-1', '--brand', 'demo-brand', '--data-dir', dir)).stdout).toContain('DISABLED');
    expect((await cli('station', 'list', '--brand', 'demo-brand', '--data-dir', dir)).stdout).toMatch(/station demo-brand\/demo-model\n[\s\S]*station demo-brand\/line-1 {2}DISABLED/);
  });

  it('refuses what it cannot do with a message and the code', async () => {
    const bad = await cli('station', 'create', 'line-2', '--model', 'demo-brand/demo-model', '--per-day', 'lots', '--data-dir', dir);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--per-day takes a whole number, not "lots"');
    const unknown = await cli('station', 'show', 'nowhere', '--brand', 'demo-brand', '--data-dir', dir);
    expect(unknown.stderr).toContain('brand demo-brand has no station named nowhere');
    expect(unknown.stderr).toContain('[ERR_STATION_UNKNOWN]');
    const rule = await cli('remodel', 'allow', '--from', 'demo-brand/nothing', '--to', 'demo-brand/demo-model', '--data-dir', dir);
    expect(rule.stderr).toContain('model demo-brand/nothing is not registered in this vault');
  });

  it('reports registrations as CSV', async () => {
    const r = await cli('report', '--brand', 'demo-brand', '--by', 'day', '--data-dir', dir);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('period,brand,station,model,outcome,count');
  });

  it('system-user create signs a permit with the brand key, and a re-issue is the next revision', async () => {
    const keyFile = join(dir, 'ssh.pub');
    writeFileSync(keyFile, '# factory service account\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFactoryKeyForTests factory@line-1\n');
    const args = ['system-user', 'create', '--brand', 'demo-brand', '--email', 'service@demo.test', '--username', 'factory', '--model', 'demo-model', '--ssh-key-file', keyFile, '--data-dir', dir];
    const first = await cli(...args);
    expect(first.code).toBe(0);
    const a = decodeAssertion(Buffer.from(first.stdout));
    expect(a.type).toBe('system-user');
    expect(first.stderr).toMatch(/revision 0/);
    const again = await cli(...args);
    expect(decodeAssertion(Buffer.from(again.stdout)).revision).toBe(a.revision + 1);
    expect((await cli('system-user', 'list', '--brand', 'demo-brand', '--data-dir', dir)).stdout).toMatch(/service@demo.test {2}factory {2}revision 1 {2}demo-model {2}1 ssh key/);
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

    it('creates and changes stations, allows a remodel and issues a system-user as the token’s owner, audited under their name', async () => {
      const at = ['--url', admin.url, '--token-file', tokenFile];
      const before = Number(((await v.vault.db('audit_log').max({ id: 'id' }))[0] as { id: number }).id);
      const made = await cli('station', 'create', 'line-9', '--model', 'demo-brand/demo-model', '--per-day', '10', ...at);
      expect(made.code).toBe(0);
      expect(made.stdout).toMatch(/^sv_[0-9a-f]{12}_/);
      expect((await cli('station', 'update', 'line-9', '--brand', 'demo-brand', '--total', '20', ...at)).stdout).toContain('total 20');
      expect((await cli('apikey', 'create', '--station', 'line-9', '--brand', 'demo-brand', ...at)).stdout).toMatch(/^sv_/);
      const denied = await cli('remodel', 'allow', '--from', 'demo-brand/demo-model', '--to', 'demo-brand/demo-model', ...at);
      expect(denied.stderr).toContain('--from and --to are the same');
      const su = await cli('system-user', 'create', '--brand', 'demo-brand', '--email', 'svc@demo.test', '--username', 'svc', '--model', 'demo-model', '--password-file', tokenFile, ...at);
      expect(su.code).toBe(0);
      expect(decodeAssertion(Buffer.from(su.stdout)).headerString('password')).toMatch(/^\$6\$/);
      expect((await cli('system-user', 'show', '--brand', 'demo-brand', '--email', 'svc@demo.test', ...at)).stdout).toBe(su.stdout);
      const list = join(remoteDir, 'serials.csv');
      writeFileSync(list, 'serial\nDEMO-900001\nDEMO-900002\n');
      const uploaded = await cli('allowlist', 'import', list, '--station', 'line-9', '--brand', 'demo-brand', ...at);
      expect(uploaded.stdout).toBe('read 2 serials, added 2, already listed 0\n');
      expect((await cli('allowlist', 'import', list, '--station', 'line-9', '--brand', 'demo-brand', ...at)).stdout).toBe('read 2 serials, added 0, already listed 2\n');
      writeFileSync(list, 'serial\nDEMO-900003\n""\n');
      const bad = await cli('allowlist', 'import', list, '--station', 'line-9', '--brand', 'demo-brand', ...at);
      expect(bad.stderr).toMatch(/line 3: .*nothing was imported/);
      expect(await v.vault.provisioning.allowLists.count((await v.vault.provisioning.stations.byName('demo-brand', 'line-9'))!)).toBe(2);
      const audit = await v.vault.db('audit_log').where('id', '>', before).whereIn('action', ['station.create', 'station.update', 'apikey.create', 'system-user.create', 'allowlist.import']).select('actor');
      expect(audit.length).toBeGreaterThanOrEqual(4);
      expect(new Set(audit.map((r) => String(r.actor)))).toEqual(new Set(['remote@demo.test']));
    });
  });
});
