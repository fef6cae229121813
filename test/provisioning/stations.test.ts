import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceRegistrationError, registerDevice } from '../../src/cli/device-client.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';

const dataDir = testDataDir();
afterAll(() => removeDataDir(dataDir));

const BRAND = 'demo-brand';

/** The serial, or the refusal as `STATUS CODE-LIKE message`. */
async function attempt(t: TestVault, apiKey: string, deviceKey: KeyObject, proposedSerial?: string): Promise<{ ok: true; serial: string } | { ok: false; status: number | undefined; message: string }> {
  try {
    const r = await registerDevice({ url: t.url, headers: { 'api-key': apiKey }, model: t.model, trusted: t.trusted, deviceKey, ...(proposedSerial ? { proposedSerial } : {}) });
    return { ok: true, serial: r.serial.headerString('serial') };
  } catch (e) {
    if (e instanceof DeviceRegistrationError) return { ok: false, status: e.status, message: e.message };
    throw e;
  }
}

describe.each<DatabaseKind>(['sqlite', 'pg'])('factory stations on %s', (database) => {
  let t: TestVault;
  let keys: KeyObject[];
  beforeAll(async () => {
    t = await startTestVault(dataDir, database);
    keys = await deviceKeys(90, 1024);
  }, 120_000);
  afterAll(() => t?.close());

  it('64 devices racing against a total of 50 get exactly 50 serials; the rest a 429 that says what to do; a restart keeps the count', async () => {
    const { apiKey } = await t.vault.provisioning.factory.create(BRAND, { name: 'quota-line', models: ['demo-model'], total: 50 });
    const results = await Promise.all(keys.slice(0, 64).map((k) => attempt(t, apiKey, k)));
    const issued = results.filter((r) => r.ok);
    const refused = results.filter((r): r is Extract<typeof r, { ok: false }> => !r.ok);
    expect(issued).toHaveLength(50);
    expect(new Set(issued.map((r) => (r.ok ? r.serial : ''))).size).toBe(50);
    expect(refused).toHaveLength(14);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.message).toContain('station quota-line has issued all 50 serials');
      expect(r.message).toContain('serial-vault station update quota-line --total N');
    }
    expect(Number((await t.vault.db('issuance_log').where({ station: 'quota-line' }).count({ n: '*' }))[0]!['n'])).toBe(50);

    // A device that has its serial gets it again after the quota is full; a new one is still refused, after a restart too.
    const again = await attempt(t, apiKey, keys[results.findIndex((r) => r.ok)]!);
    expect(again.ok).toBe(true);
    await t.close();
    t = await startTestVault(dataDir, database, {}, t.pgConnection);
    const after = await attempt(t, apiKey, keys[64]!);
    expect(after).toMatchObject({ ok: false, status: 429 });
    const view = await t.vault.provisioning.factory.view(await t.vault.provisioning.factory.station(BRAND, 'quota-line'));
    expect(view.usage.find((u) => u.window === 'total')).toEqual({ window: 'total', limit: 50, used: 50 });
    // Raising the limit lets the next device in.
    await t.vault.provisioning.factory.update(BRAND, 'quota-line', { total: 51 });
    expect((await attempt(t, apiKey, keys[64]!)).ok).toBe(true);
    expect((await attempt(t, apiKey, keys[65]!)).ok).toBe(false);
  }, 180_000);

  it('an hourly quota says when the next hour starts', async () => {
    const { apiKey } = await t.vault.provisioning.factory.create(BRAND, { name: 'hourly-line', models: ['demo-model'], perHour: 1 });
    expect((await attempt(t, apiKey, keys[66]!)).ok).toBe(true);
    const refused = await attempt(t, apiKey, keys[67]!);
    expect(refused).toMatchObject({ ok: false, status: 429 });
    expect(!refused.ok && refused.message).toMatch(/has issued its 1 serials for the hour starting \d{4}-\d\d-\d\dT\d\d:00:00Z \(--per-hour\); more from \d{4}-\d\d-\d\dT\d\d:00:00Z/);
  });

  it('refuses outside the validity window and while disabled, saying how to change it', async () => {
    const future = new Date(Date.now() + 3600_000);
    const { apiKey } = await t.vault.provisioning.factory.create(BRAND, { name: 'window-line', models: ['demo-model'], validFrom: future });
    const early = await attempt(t, apiKey, keys[68]!);
    expect(early).toMatchObject({ ok: false, status: 403 });
    expect(!early.ok && early.message).toContain(`station window-line provisions from ${future.toISOString()}`);
    await t.vault.provisioning.factory.update(BRAND, 'window-line', { validFrom: null, validUntil: new Date(Date.now() - 1000) });
    const late = await attempt(t, apiKey, keys[68]!);
    expect(!late.ok && late.message).toContain('--until TIME');
    await t.vault.provisioning.factory.update(BRAND, 'window-line', { validUntil: null, disabled: true });
    const disabled = await attempt(t, apiKey, keys[68]!);
    expect(!disabled.ok && disabled.message).toMatch(/station window-line was disabled at/);
    await t.vault.provisioning.factory.update(BRAND, 'window-line', { disabled: false });
    expect((await attempt(t, apiKey, keys[68]!)).ok).toBe(true);
  });

  it('issues only serials matching the pattern, and gives the template number back', async () => {
    const { apiKey } = await t.vault.provisioning.factory.create(BRAND, { name: 'pattern-line', models: ['demo-model'], pattern: 'NOPE-[0-9]+' });
    const refused = await attempt(t, apiKey, keys[69]!);
    expect(refused).toMatchObject({ ok: false, status: 403 });
    expect(!refused.ok && refused.message).toMatch(/^cannot get a serial: serial DEMO-\d+ does not match station pattern-line's serial pattern NOPE-\[0-9\]\+$/);
    await t.vault.provisioning.factory.update(BRAND, 'pattern-line', { pattern: 'DEMO-[0-9]{6}' });
    const ok = await attempt(t, apiKey, keys[69]!);
    expect(ok.ok).toBe(true);
    // The refused device's number was given back: serials stay without gaps.
    const numbers = (await t.vault.db('serials').join('models', 'models.id', 'serials.model_id').where('models.name', 'demo-model').select('serial')).map((r) => Number(String(r.serial).slice(5))).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
  });

  it('refuses a model the station does not provision, and every change is audited', async () => {
    await expect(t.vault.provisioning.factory.create(BRAND, { name: 'Bad Name', models: ['demo-model'] })).rejects.toMatchObject({ code: 'ERR_STATION_INVALID' });
    await expect(t.vault.provisioning.factory.create(BRAND, { name: 'quota-line', models: ['demo-model'] })).rejects.toMatchObject({ code: 'ERR_STATION_EXISTS' });
    await expect(t.vault.provisioning.factory.create(BRAND, { name: 'x', models: ['demo-model'], pattern: '(' })).rejects.toMatchObject({ code: 'ERR_STATION_INVALID' });
    await expect(t.vault.provisioning.factory.update(BRAND, 'nowhere', { total: 1 })).rejects.toMatchObject({ code: 'ERR_STATION_UNKNOWN' });
    const actions = (await t.vault.db('audit_log').whereIn('action', ['station.create', 'station.update', 'station.disable', 'apikey.create']).select('action')).map((r) => String(r.action));
    expect(actions.filter((a) => a === 'station.create').length).toBeGreaterThanOrEqual(4);
    expect(actions).toContain('station.disable');
    expect(actions).toContain('station.update');
  });

  it('reports issued, repeated and refused registrations per station and model, as rows and CSV', async () => {
    const rows = await t.vault.provisioning.factory.report(BRAND, { station: 'quota-line', by: 'day' });
    const of = (outcome: string) => rows.filter((r) => r.outcome === outcome).reduce((n, r) => n + r.count, 0);
    expect(of('issued')).toBe(51);
    expect(of('repeated')).toBe(1);
    expect(of('refused:ERR_QUOTA_EXCEEDED')).toBe(16);
    expect(rows.every((r) => r.model === 'demo-model' && r.brandId === BRAND && /^\d{4}-\d\d-\d\d$/.test(r.period))).toBe(true);
    const metrics = await t.vault.metrics.registry.getSingleMetricAsString('serial_vault_registrations_total');
    expect(metrics).toMatch(/outcome="refused:ERR_QUOTA_EXCEEDED"/);
  });
});
