import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import type { Role } from '../../src/accounts/roles.js';
import { TrustDatabase, decodeStream } from '../../src/assertions/index.js';
import { cli } from '../support/cli.js';
import { buildSnap } from '../support/snaps.js';
import { removeDataDir, startAdminVault, testDataDir, type AdminTestVault } from '../support/vault.js';

const BRAND = 'demo-brand';

/**
 * The catalog end to end through the CLI against a running vault's admin
 * API, each person with their own token: register, upload real .snap files,
 * review, release, curate, download, and the audit of it all.
 */
describe.each(['sqlite', 'pg'] as const)('the catalog through the CLI on %s', (database) => {
  let dir: string;
  let v: AdminTestVault;
  const tokenFiles = new Map<string, string>();
  const as = (who: string, ...args: string[]) => cli(...args, '--url', v.adminUrl, '--token-file', tokenFiles.get(who)!);
  const ok = async (who: string, ...args: string[]) => {
    const r = await as(who, ...args);
    expect(r.stderr.replace(/^(uploading|downloading).*\n/gm, ''), `${who}: ${args.join(' ')}`).toBe('');
    expect(r.code, `${who}: ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const offers = async (store: string, name: string, channel = 'stable', arch = 'amd64') => (await v.vault.snaps.offer(store, [name], channel, arch)).get(name)?.revision.revision;

  beforeAll(async () => {
    dir = testDataDir();
    v = await startAdminVault(dir, database);
    const accounts = v.vault.accounts;
    await accounts.createStore(OPERATOR, { id: 'line-a', name: 'Line A', parentId: BRAND, kind: 'product' });
    await accounts.createStore(OPERATOR, { id: 'line-a-eu', name: 'Line A (EU)', parentId: 'line-a', kind: 'product' });
    const people: Array<[string, Role]> = [['admin', 'admin'], ['publisher', 'publisher'], ['collaborator', 'collaborator'], ['reviewer', 'reviewer'], ['viewer', 'viewer']];
    for (const [who, role] of people) {
      await accounts.addPerson(OPERATOR, `${who}@flow.test`, who);
      await accounts.grant(OPERATOR, BRAND, `${who}@flow.test`, role);
      const file = join(dir, `${who}.token`);
      writeFileSync(file, (await accounts.createToken(OPERATOR, { name: 'flow', days: 1, forEmail: `${who}@flow.test` })).secret, { mode: 0o600 });
      tokenFiles.set(who, file);
    }
    await accounts.createStore(OPERATOR, { id: 'partner-x', name: 'Partner X', parentId: BRAND, kind: 'ecosystem', administrators: ['admin@flow.test'] });
    await accounts.createStore(OPERATOR, { id: 'partner-y', name: 'Partner Y', parentId: BRAND, kind: 'ecosystem', administrators: ['admin@flow.test'] });
    await accounts.grant(OPERATOR, 'partner-x', 'publisher@flow.test', 'publisher');
  }, 120_000);

  afterAll(async () => {
    await v?.close();
    removeDataDir(dir);
  });

  it('registers names, uploads real snaps, reviews and releases them, with the channel map and its history', async () => {
    await ok('admin', 'snap', 'review-policy', '--store', BRAND, '--review', 'required');
    expect(await ok('publisher', 'snap', 'register', 'hello-flow', '--store', BRAND)).toMatch(/registered hello-flow \(app\) in demo-brand, snap-id [A-Za-z0-9]{32}/);
    await ok('publisher', 'snap', 'register', 'flow-gadget', '--store', BRAND, '--type', 'gadget');
    await ok('publisher', 'snap', 'register', 'secret-tool', '--store', 'line-a', '--private');
    await ok('publisher', 'snap', 'register', 'partner-app', '--store', 'partner-x');
    await ok('publisher', 'snap', 'collaborators', 'hello-flow', 'collaborator@flow.test', '--store', BRAND);

    const amd64 = buildSnap(dir, { name: 'hello-flow', version: '1.0', architectures: ['amd64'] });
    const arm64Devel = buildSnap(dir, { name: 'hello-flow', version: '1.1~dev', architectures: ['arm64'], grade: 'devel' });
    expect(await ok('collaborator', 'snap', 'upload', amd64, '--store', BRAND)).toBe('hello-flow: revision 1 (needs-review)\n');
    expect(await ok('collaborator', 'snap', 'upload', arm64Devel, '--store', BRAND)).toBe('hello-flow: revision 2 (needs-review)\n');
    // The same file again is the same revision.
    expect(await ok('collaborator', 'snap', 'upload', amd64, '--store', BRAND)).toBe('hello-flow: revision 1 (needs-review)\n');

    // Not approved yet: it cannot be released.
    const early = await as('collaborator', 'snap', 'release', 'hello-flow', '1', 'stable', '--store', BRAND);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('[ERR_REVISION_NOT_APPROVED]');

    await ok('reviewer', 'snap', 'review', 'hello-flow', '1', '--approve', '--store', BRAND);
    await ok('reviewer', 'snap', 'review', 'hello-flow', '2', '--reject', 'crashes at start', '--store', BRAND);
    const rejected = await as('collaborator', 'snap', 'release', 'hello-flow', '2', 'edge', '--store', BRAND);
    expect(rejected.stderr).toContain('crashes at start');
    expect(rejected.stderr).toContain('[ERR_REVISION_NOT_APPROVED]');

    const released = await ok('collaborator', 'snap', 'release', 'hello-flow', '1', 'stable', 'latest/edge', '--store', BRAND);
    expect(released).toMatch(/latest\/edge\s+amd64\s+1\s+1\.0/);
    expect(released).toMatch(/latest\/stable\s+amd64\s+1\s+1\.0/);
    await ok('collaborator', 'snap', 'close', 'hello-flow', 'edge', '--store', BRAND);
    const status = JSON.parse(await ok('viewer', 'snap', 'status', 'hello-flow', '--store', BRAND, '--json')) as { 'channel-map': unknown[] };
    expect(status['channel-map']).toEqual([{ channel: 'latest/stable', architecture: 'amd64', revision: 1 }]);
    const revisions = await ok('viewer', 'snap', 'revisions', 'hello-flow', '--store', BRAND);
    expect(revisions).toMatch(/^\s+2\s+1\.1~dev\s+arm64\s+devel\s+rejected \(crashes at start\)\s+by collaborator@flow.test\n\s+1\s+1\.0\s+amd64\s+stable\s+approved/);

    const history = await v.vault.snaps.status(OPERATOR, BRAND, 'hello-flow');
    expect(history.history.map((h) => [h.channel, h.revision, h.releasedBy])).toEqual([
      ['latest/stable', 1, 'collaborator@flow.test'],
      ['latest/edge', 1, 'collaborator@flow.test'],
      ['latest/edge', null, 'collaborator@flow.test'],
    ]);
    // Edge is closed: it follows stable.
    expect(await offers(BRAND, 'hello-flow', 'edge')).toBe(1);
    expect(await offers(BRAND, 'hello-flow', 'stable', 'arm64')).toBeUndefined();
  });

  it('offers by store: product stores inherit, ecosystem stores see only their own and what they include, private stays below its store, excludes and pins apply', async () => {
    await ok('admin', 'snap', 'review-policy', '--store', BRAND, '--review', 'optional');
    for (const name of ['secret-tool', 'partner-app']) {
      const store = name === 'partner-app' ? 'partner-x' : 'line-a';
      await ok('publisher', 'snap', 'upload', buildSnap(dir, { name, architectures: ['all'] }), '--store', store);
      await ok('publisher', 'snap', 'release', name, '1', 'stable', '--store', store);
    }
    expect(await offers('line-a-eu', 'hello-flow')).toBe(1);
    expect(await offers('partner-x', 'hello-flow')).toBeUndefined();
    expect(await offers('partner-x', 'partner-app')).toBe(1);
    expect(await offers('partner-y', 'partner-app')).toBeUndefined();
    expect(await offers(BRAND, 'partner-app')).toBeUndefined();
    // Private: its store and those that inherit from it, nobody else, not even by include.
    expect(await offers('line-a', 'secret-tool')).toBe(1);
    expect(await offers('line-a-eu', 'secret-tool')).toBe(1);
    expect(await offers(BRAND, 'secret-tool')).toBeUndefined();
    const include = await as('admin', 'snap', 'include', 'secret-tool', '--store', 'partner-x');
    expect(include.stderr).toContain('[ERR_SNAP_OWNER]');

    await ok('admin', 'snap', 'include', 'hello-flow', '--store', 'partner-x');
    expect(await offers('partner-x', 'hello-flow')).toBe(1);
    expect(await offers('partner-y', 'hello-flow')).toBeUndefined();
    await ok('admin', 'snap', 'exclude', 'hello-flow', '--store', 'line-a');
    expect(await offers('line-a', 'hello-flow')).toBeUndefined();
    expect(await offers('line-a-eu', 'hello-flow')).toBeUndefined();
    await ok('admin', 'snap', 'uncurate', 'hello-flow', '--store', 'line-a');
    expect(await offers('line-a-eu', 'hello-flow')).toBe(1);

    // Other types: the brand's gadget, for two architectures, and its type is checked against the registration.
    await ok('publisher', 'snap', 'upload', buildSnap(dir, { name: 'flow-gadget', type: 'gadget', architectures: ['amd64', 'arm64'] }), '--store', BRAND);
    await ok('publisher', 'snap', 'release', 'flow-gadget', '1', 'stable', '--store', BRAND);
    expect(await offers('line-a-eu', 'flow-gadget', 'stable', 'arm64')).toBe(1);
    const wrongType = await as('publisher', 'snap', 'upload', buildSnap(dir, { name: 'flow-gadget', version: '2', type: 'kernel' }), '--store', BRAND);
    expect(wrongType.stderr).toContain('meta/snap.yaml: "type" is "kernel", but "flow-gadget" is registered as gadget [ERR_SNAP_YAML_MISMATCH]');

    const listed = (await v.vault.snaps.visible('line-a-eu')).map((s) => s.name);
    expect(listed).toEqual(['flow-gadget', 'hello-flow', 'secret-tool']);

    // A pin: revision 3 is released to stable, line-a stays on revision 1.
    await ok('collaborator', 'snap', 'upload', buildSnap(dir, { name: 'hello-flow', version: '2.0', architectures: ['amd64'] }), '--store', BRAND);
    await ok('collaborator', 'snap', 'release', 'hello-flow', '3', 'stable', '--store', BRAND);
    await ok('admin', 'snap', 'override', 'hello-flow', 'stable', '1', '--store', 'line-a');
    expect(await offers(BRAND, 'hello-flow')).toBe(3);
    expect(await offers('line-a', 'hello-flow')).toBe(1);
    expect(await offers('line-a-eu', 'hello-flow')).toBe(1);
    await ok('admin', 'snap', 'override', 'hello-flow', 'stable', 'none', '--store', 'line-a');
    expect(await offers('line-a-eu', 'hello-flow')).toBe(3);
  });

  it('downloads NAME_REV.snap and NAME_REV.assert for a Viewer; the assertions verify and match the file', async () => {
    const out = join(dir, 'downloads');
    expect(await ok('viewer', 'snap', 'download', 'hello-flow', '--store', 'line-a-eu', '--dir', out)).toBe(`${out}/hello-flow_3.snap\n${out}/hello-flow_3.assert\n`);
    const file = readFileSync(join(out, 'hello-flow_3.snap'));
    const assertions = decodeStream(readFileSync(join(out, 'hello-flow_3.assert')));
    const trust = new TrustDatabase({ trusted: v.trusted });
    for (const r of trust.addBatch(assertions)) expect(r.error, r.assertion.ref).toBeUndefined();
    const revision = assertions.find((a) => a.type === 'snap-revision')!;
    expect(revision.headerString('snap-sha3-384')).toBe(createHash('sha3-384').update(file).digest('base64url'));
    expect(revision.headerString('snap-size')).toBe(String(file.length));
    expect(revision.headerString('snap-revision')).toBe('3');
    const viaRevision = await ok('viewer', 'snap', 'download', 'hello-flow', '--store', BRAND, '--revision', '1', '--dir', out);
    expect(viaRevision).toContain('hello-flow_1.snap');
  });

  it('audits every change with who made it', async () => {
    const rows = (await v.vault.db('audit_log').where('target_type', 'snap').orderBy('seq').select('action', 'actor', 'target_id')) as Array<{ action: string; actor: string; target_id: string }>;
    const seen = rows.map((r) => `${r.action} ${r.target_id} ${r.actor}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        'snap.register hello-flow publisher@flow.test',
        'snap.collaborators hello-flow publisher@flow.test',
        'revision.create hello-flow/1 collaborator@flow.test',
        'revision.approve hello-flow/1 reviewer@flow.test',
        'revision.reject hello-flow/2 reviewer@flow.test',
        'snap.release hello-flow collaborator@flow.test',
        'store.include hello-flow admin@flow.test',
        'store.exclude hello-flow admin@flow.test',
        'store.pin hello-flow admin@flow.test',
      ]),
    );
    const policy = await v.vault.db('audit_log').where({ action: 'store.review-policy' }).orderBy('seq').select('actor', 'after');
    expect(policy.map((p) => [p.actor, JSON.parse(String(p.after))])).toEqual([
      ['admin@flow.test', { reviewRequired: true }],
      ['admin@flow.test', { reviewRequired: false }],
    ]);
  });
});
