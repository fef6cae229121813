import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../src/db/errors.js';
import { IssuanceWriter, type IssuanceWrite } from '../../src/provisioning/issuance-writer.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

/**
 * The group-commit writer: every issuance waiting goes into one
 * transaction, and when that batch fails (a race lost to a unique key), each
 * write is tried again alone, so one bad write never fails the others.
 */
describe('the issuance writer on SQLite', () => {
  const dir = testDataDir();
  let t: TestVault;
  let base: Omit<IssuanceWrite, 'serial' | 'deviceKeyId' | 'log'>;
  beforeAll(async () => {
    t = await startTestVault(dir, 'sqlite');
    const model = (await t.vault.models.find('demo-brand', 'demo-model'))!;
    base = { modelId: model.id, signingKeyRowId: model.signingKeyId, signedAt: new Date(), assertion: 'x' };
  });
  afterAll(async () => {
    await t?.close();
    removeDataDir(dir);
  });

  const write = (serial: string, deviceKeyId: string): IssuanceWrite => ({
    ...base,
    serial,
    deviceKeyId,
    log: { brandId: 'demo-brand', model: 'demo-model', serial, deviceKeyId, signingKeyId: 'k', outcome: 'issued' },
  });

  it('commits a batch whole, and when one write of it breaks a unique key, the others still commit', async () => {
    const writer = new IssuanceWriter(t.vault.db);
    const outcomes = await Promise.allSettled([
      writer.submit(write('W-1', 'device-a')),
      writer.submit(write('W-2', 'device-a')), // the same device key again: refused
      writer.submit(write('W-3', 'device-c')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(isUniqueViolation((outcomes[1] as PromiseRejectedResult).reason)).toBe(true);
    expect((await t.vault.db('serials').whereIn('serial', ['W-1', 'W-2', 'W-3']).orderBy('serial')).map((r) => r.serial)).toEqual(['W-1', 'W-3']);
    expect((await t.vault.db('issuance_log').whereIn('serial', ['W-1', 'W-2', 'W-3']).orderBy('serial')).map((r) => r.serial)).toEqual(['W-1', 'W-3']);
  });

  it('refuses a write whose key does not sign at its timestamp (rotated or revoked since it was chosen), and commits the others', async () => {
    const writer = new IssuanceWriter(t.vault.db);
    const outcomes = await Promise.allSettled([
      writer.submit(write('K-1', 'device-k1')),
      writer.submit({ ...write('K-2', 'device-k2'), signedAt: new Date('2000-01-01T00:00:00Z') }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_SIGNING_KEY_UNUSABLE' });
    expect((await t.vault.db('serials').whereIn('serial', ['K-1', 'K-2'])).map((r) => r.serial)).toEqual(['K-1']);
  });

  it('a batch with nothing wrong is one transaction for all', async () => {
    const writer = new IssuanceWriter(t.vault.db);
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer.submit(write(`B-${i}`, `device-b${i}`))));
    expect(await t.vault.db('serials').where('serial', 'like', 'B-%').count({ n: '*' })).toEqual([{ n: 20 }]);
  });
});
