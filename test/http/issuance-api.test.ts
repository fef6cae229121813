import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { decodeAssertion } from '../../src/assertions/index.js';
import { deviceKeys, removeDataDir, startAdminVault, testDataDir, type AdminTestVault } from '../support/vault.js';

/**
 * The issuance log, the brand's models and the audit chain through the admin
 * API: what the dashboard's issuance, models and audit pages show.
 */
describe.each(['sqlite', 'pg'] as const)('issuance search, models and audit verification in the admin API on %s', (database) => {
  const dataDir = testDataDir();
  let v: AdminTestVault;
  const tokens: Record<string, string> = {};
  const serials: string[] = [];
  const get = async (path: string, as = 'admin') => fetch(`${v.adminUrl}api/v1/${path}`, { headers: { authorization: `Bearer ${tokens[as]}` } });
  const json = async <T>(path: string, as = 'admin') => {
    const res = await get(path, as);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    v = await startAdminVault(dataDir, database);
    for (const role of ['admin', 'viewer', 'publisher'] as const) {
      await v.vault.accounts.addPerson(OPERATOR, `${role}@issuance.test`, role);
      await v.vault.accounts.grant(OPERATOR, 'demo-brand', `${role}@issuance.test`, role);
      tokens[role] = (await v.vault.accounts.createToken(OPERATOR, { name: 'issuance', days: 1, forEmail: `${role}@issuance.test` })).secret;
    }
    for (const deviceKey of await deviceKeys(3)) {
      const reg = await registerDevice({ url: v.url, headers: { 'api-key': v.apiKey }, model: v.model, trusted: v.trusted, deviceKey });
      serials.push(reg.serial.headerString('serial'));
    }
  }, 120_000);

  afterAll(async () => {
    await v?.close();
    removeDataDir(dataDir);
  });

  type Entry = { id: number; serial: string; model: string; station: string | null; outcome: string; issuedAt: string };

  it('finds a serial by its exact value, and every serial by a prefix, newest first', async () => {
    const one = await json<{ items: Entry[]; next: number | null }>(`brands/demo-brand/issuances?serial=${encodeURIComponent(serials[1]!)}`);
    expect(one.items).toHaveLength(1);
    expect(one.items[0]).toMatchObject({ serial: serials[1], model: 'demo-model', outcome: 'issued' });
    const prefix = serials[0]!.slice(0, 3);
    const all = await json<{ items: Entry[] }>(`brands/demo-brand/issuances?serial=${encodeURIComponent(`${prefix}*`)}`);
    expect(all.items.map((e) => e.serial)).toEqual([...serials].reverse());
    expect((await json<{ items: Entry[] }>('brands/demo-brand/issuances?serial=NO-SUCH')).items).toEqual([]);
    // A `%` is a character, not a wildcard, and a prefix keeps its case on both databases.
    expect((await json<{ items: Entry[] }>('brands/demo-brand/issuances?serial=%25*')).items).toEqual([]);
    expect((await json<{ items: Entry[] }>(`brands/demo-brand/issuances?serial=${encodeURIComponent(`${prefix.toLowerCase()}*`)}`)).items).toEqual([]);
  });

  it('pages by `next`, and filters by model, station and time', async () => {
    const first = await json<{ items: Entry[]; next: number | null }>('brands/demo-brand/issuances?limit=2');
    expect(first.items).toHaveLength(2);
    expect(first.next).toBe(first.items[1]!.id);
    const second = await json<{ items: Entry[]; next: number | null }>(`brands/demo-brand/issuances?limit=2&before=${first.next}`);
    expect(second).toMatchObject({ next: null });
    expect([...first.items, ...second.items].map((e) => e.serial)).toEqual([...serials].reverse());
    expect((await json<{ items: Entry[] }>('brands/demo-brand/issuances?model=other-model')).items).toEqual([]);
    const station = first.items[0]!.station!;
    expect((await json<{ items: Entry[] }>(`brands/demo-brand/issuances?station=${station}`)).items).toHaveLength(3);
    expect((await json<{ items: Entry[] }>('brands/demo-brand/issuances?from=2100-01-01T00:00:00Z')).items).toEqual([]);
    const bad = await get('brands/demo-brand/issuances?from=yesterday');
    expect(bad.status).toBe(400);
  });

  it('exports the same search as CSV', async () => {
    const res = await get(`brands/demo-brand/issuances.csv?serial=${encodeURIComponent(serials[2]!)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toContain('issuances-demo-brand.csv');
    const [header, row, end] = (await res.text()).split('\n');
    expect(header).toBe('id,serial,model,station,outcome,issued_at,device_key,signing_key,origin,original');
    expect(row!.split(',').slice(1, 3)).toEqual([serials[2], 'demo-model']);
    expect(end).toBe('');
  });

  it('is refused to a publisher, who has no business with serials', async () => {
    expect((await get('brands/demo-brand/issuances', 'publisher')).status).toBe(403);
  });

  it("lists the brand's models with their serial policies, and gives a viewer the model assertion for an image build", async () => {
    const models = await json<{ items: Array<Record<string, unknown>> }>('brands/demo-brand/models', 'viewer');
    expect(models.items).toEqual([expect.objectContaining({ name: 'demo-model', brand: 'demo-brand', serialPolicy: expect.any(String), provisioning: 'api-key', enabled: true, revision: v.model.revision, signKeyId: v.model.signKeyId })]);
    const res = await get('brands/demo-brand/models/demo-model/assertion', 'viewer');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x.ubuntu.assertion');
    expect(decodeAssertion(Buffer.from(await res.arrayBuffer())).encode().equals(v.model.encode())).toBe(true);
    const unknown = await get('brands/demo-brand/models/no-such/assertion', 'viewer');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { code: string }).code).toBe('ERR_MODEL_UNKNOWN');
  });

  it('verifies the audit chain, and says where it breaks once an entry is altered', async () => {
    const ok = await json<{ ok: boolean; entries: number }>('brands/demo-brand/audit/verify');
    expect(ok.ok).toBe(true);
    expect(ok.entries).toBeGreaterThan(3);
    expect((await get('brands/demo-brand/audit/verify', 'viewer')).status).toBe(403);
    const victim = (await v.vault.db('audit_log').orderBy('seq').first('seq')) as { seq: number };
    // As someone with the database file would: past the append-only trigger (this vault is thrown away after).
    if (database === 'pg') await v.vault.db.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change');
    else await v.vault.db.raw('DROP TRIGGER audit_log_no_update');
    await v.vault.db('audit_log').where('seq', victim.seq).update({ action: 'tampered' });
    const broken = await json<{ ok: boolean; seq: number; problem: string }>('brands/demo-brand/audit/verify');
    expect(broken).toMatchObject({ ok: false, seq: victim.seq });
  });
});
