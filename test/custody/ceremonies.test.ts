import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { cli } from '../support/cli.js';
import { removeDataDir, startAdminVault, testDataDir, type AdminTestVault } from '../support/vault.js';

const BRAND = 'demo-brand';
const OFFICERS = ['ana@demo.test', 'ben@demo.test', 'cam@demo.test'] as const;
type Who = (typeof OFFICERS)[number] | 'boss@demo.test';

interface Answer {
  status: number;
  body: { code?: string; message?: string; outcome?: string; ceremony?: { id: number; state: string; approvals: unknown[] } | null; result?: unknown };
}

/**
 * M-of-N ceremonies with three security officers and M = 2, through the
 * admin API and the command line, on SQLite and PostgreSQL: a proposal runs
 * only after two officers other than its proposer approve, exactly once
 * however the approvals race, and nobody gets there alone.
 */
describe.each(['sqlite', 'pg'] as const)('ceremonies on %s', (database) => {
  const dir = testDataDir();
  let v: AdminTestVault;
  const tokens = new Map<Who, string>();

  const api = async (who: Who, method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(new URL(`api/v1/brands/${BRAND}/${path}`, v.adminUrl), {
      method,
      headers: { authorization: `Bearer ${tokens.get(who)!}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  };
  const propose = (who: Who, action: string, params: Record<string, string>, expiresInSeconds?: number) =>
    api(who, 'POST', 'ceremonies', { action, params, ...(expiresInSeconds ? { expiresInSeconds } : {}) });
  const approve = (who: Who, id: number) => api(who, 'POST', `ceremonies/${id}/approve`);
  const serialKeys = async () => (await v.vault.custody.keys.ofBrand((await v.vault.custody.brands.byAccountId(BRAND))!.id)).filter((k) => k.purpose === 'serials');
  const auditCount = async (action: string) => Number(((await v.vault.db('audit_log').where({ action }).count({ n: '*' })) as Array<{ n: number | string }>)[0]!.n);

  beforeAll(async () => {
    v = await startAdminVault(dir, database);
    const accounts = v.vault.accounts;
    for (const email of OFFICERS) {
      await accounts.addPerson(OPERATOR, email, email);
      await accounts.grant(OPERATOR, BRAND, email, 'security-officer');
      tokens.set(email, (await accounts.createToken(OPERATOR, { name: 'officer', days: 1, forEmail: email })).secret);
    }
    await accounts.addPerson(OPERATOR, 'boss@demo.test', 'The Boss');
    await accounts.grant(OPERATOR, BRAND, 'boss@demo.test', 'admin');
    tokens.set('boss@demo.test', (await accounts.createToken(OPERATOR, { name: 'admin', days: 1, forEmail: 'boss@demo.test' })).secret);
  }, 120_000);

  afterAll(async () => {
    await v?.close();
    removeDataDir(dir);
  });

  it('proposes a guarded action instead of running it, and shows what will run in full', async () => {
    const p = await propose('ana@demo.test', 'key.create', { purpose: 'models' });
    expect(p.status).toBe(201);
    expect(p.body).toMatchObject({ outcome: 'proposed', ceremony: { state: 'proposed', approvals: [], approvalsNeeded: 2, action: 'key.create', params: { purpose: 'models', brand: BRAND }, proposedBy: 'ana@demo.test' } });
    expect((await v.vault.custody.keys.ofBrand((await v.vault.custody.brands.byAccountId(BRAND))!.id)).some((k) => k.purpose === 'models')).toBe(false);
  });

  it('refuses the proposer’s own approval and a second approval by the same officer', async () => {
    const id = (await propose('ana@demo.test', 'key.create', { purpose: 'serials' })).body.ceremony!.id;
    expect((await approve('ana@demo.test', id)).body).toMatchObject({ code: 'ERR_CEREMONY_SELF_APPROVAL' });
    expect((await approve('ben@demo.test', id)).body).toMatchObject({ outcome: 'proposed', ceremony: { state: 'proposed', approvals: [expect.objectContaining({ approver: 'ben@demo.test' })] } });
    const again = await approve('ben@demo.test', id);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'ERR_CEREMONY_ALREADY_APPROVED' });
    expect((await v.vault.ceremonies.get(id)).state).toBe('proposed');
  });

  it('refuses approvals once a proposal has expired', async () => {
    const id = (await propose('ana@demo.test', 'key.create', { purpose: 'serials' }, 1)).body.ceremony!.id;
    await new Promise((r) => setTimeout(r, 1200));
    const late = await approve('ben@demo.test', id);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'ERR_CEREMONY_EXPIRED' });
    expect(late.body.message).toMatch(/expired at .*: propose it again/);
  });

  it('runs exactly once when the last approvals race', async () => {
    const keysBefore = (await serialKeys()).length;
    const executions = await auditCount('ceremony.execute');
    const id = (await propose('ana@demo.test', 'key.create', { purpose: 'serials' })).body.ceremony!.id;
    const answers = await Promise.all([approve('ben@demo.test', id), approve('cam@demo.test', id)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.filter((a) => a.body.outcome === 'executed')).toHaveLength(1);
    expect((await v.vault.ceremonies.get(id)).state).toBe('executed');
    expect((await serialKeys()).length).toBe(keysBefore + 1);
    expect(await auditCount('ceremony.execute')).toBe(executions + 1);
    // Closed for good: a late approval finds nothing to approve.
    expect((await approve('ana@demo.test', id)).body).toMatchObject({ code: 'ERR_CEREMONY_CLOSED' });
  }, 60_000);

  it('leaves an administrator acting alone with a proposal and no way to approve it, and the operator too', async () => {
    const key = (await serialKeys()).find((k) => k.state === 'active')!;
    const p = await propose('boss@demo.test', 'key.revoke', { key: key.label });
    expect(p.body.outcome).toBe('proposed');
    const id = p.body.ceremony!.id;
    const self = await approve('boss@demo.test', id);
    expect(self.status).toBe(403);
    expect(self.body).toMatchObject({ code: 'ERR_FORBIDDEN' });
    await expect(v.vault.ceremonies.approve(OPERATOR, id)).rejects.toMatchObject({ code: 'ERR_CEREMONY_NOT_OFFICER' });
    // The operator's own request is proposed too, now that the brand has officers.
    expect((await v.vault.ceremonies.request(OPERATOR, 'key.revoke', { brand: BRAND, key: key.label })).outcome).toBe('proposed');
    expect((await v.vault.custody.keys.byLabel(key.label))!.state).toBe('active');
  });

  it('fixes what a rotation will replace when it is proposed, so approvers see exactly what runs', async () => {
    const inUse = (await serialKeys()).filter((k) => k.state === 'active' && k.replacedBy === undefined).at(-1)!;
    const p = await propose('ana@demo.test', 'key.rotate', { purpose: 'serials', key: inUse.label, at: '2030-01-01T01:00:00+01:00' });
    expect(p.body.ceremony).toMatchObject({ params: { brand: BRAND, purpose: 'serials', key: inUse.label, at: '2030-01-01T00:00:00Z' } });
    const local = await propose('ana@demo.test', 'key.rotate', { purpose: 'serials', key: inUse.label, at: '2030-01-01 00:00' });
    expect(local.status).toBe(400);
    expect(local.body.message).toMatch(/not an RFC 3339 time with its zone/);
  });

  it('appoints security officers only through a ceremony, never by an administrator alone', async () => {
    const direct = await fetch(new URL(`api/v1/stores/${BRAND}/grants`, v.adminUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.get('boss@demo.test')!}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'friend@demo.test', role: 'security-officer' }),
    });
    expect(direct.status).toBe(403);
    expect(((await direct.json()) as { message: string }).message).toMatch(/appointed and removed by a ceremony.*officer\.grant/);
    const id = (await propose('boss@demo.test', 'officer.grant', { email: 'dee@demo.test' })).body.ceremony!.id;
    await approve('ana@demo.test', id);
    expect((await approve('ben@demo.test', id)).body.outcome).toBe('executed');
    expect(await v.vault.ceremonies.officers((await v.vault.custody.brands.byAccountId(BRAND))!)).toContain('dee@demo.test');
  });

  it('counts only approvals of people who are security officers when the count completes', async () => {
    const id = (await propose('ana@demo.test', 'key.create', { purpose: 'serials' })).body.ceremony!.id;
    await approve('ben@demo.test', id);
    await v.vault.accounts.revoke(OPERATOR, BRAND, 'ben@demo.test', 'security-officer');
    expect((await approve('cam@demo.test', id)).body).toMatchObject({ outcome: 'proposed', ceremony: { state: 'proposed' } });
    await v.vault.accounts.grant(OPERATOR, BRAND, 'ben@demo.test', 'security-officer');
  });

  it('takes approvals from the command line with a token, through the admin API', async () => {
    const id = (await propose('boss@demo.test', 'ceremony.policy', { approvals: '1' })).body.ceremony!.id;
    const tokenFile = join(dir, 'ben.token');
    writeFileSync(tokenFile, tokens.get('ben@demo.test')!, { mode: 0o600 });
    const first = await cli('ceremony', 'approve', String(id), '--brand', BRAND, '--url', v.adminUrl, '--token-file', tokenFile);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/it waits for 1 more approval from security officers of "demo-brand"/);
    writeFileSync(tokenFile, tokens.get('cam@demo.test')!, { mode: 0o600 });
    const second = await cli('ceremony', 'approve', String(id), '--brand', BRAND, '--url', v.adminUrl, '--token-file', tokenFile, '--json');
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ outcome: 'executed', ceremony: { state: 'executed' }, result: { approvals: 1 } });
    expect((await v.vault.ceremonies.policy((await v.vault.custody.brands.byAccountId(BRAND))!)).approvals).toBe(1);
    const shown = await cli('ceremony', 'show', String(id), '--brand', BRAND, '--url', v.adminUrl, '--token-file', tokenFile);
    expect(shown.stdout).toMatch(/approvals: 2 of 2: ben@demo.test .*, cam@demo.test/);
  });
});
