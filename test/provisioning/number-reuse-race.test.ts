import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialRepository } from '../../src/provisioning/serials.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

/**
 * A number given back is reused before a new one is taken, even when a
 * concurrent request takes the lowest free number first. On PostgreSQL the
 * reuse is `UPDATE … WHERE number = (SELECT MIN …)`: the MIN is read from
 * the statement's snapshot, and if another transaction reserves that row
 * meanwhile, the UPDATE waits for it and then matches nothing. The other
 * free numbers must still be used, not skipped as if none were free (a gap
 * in the serials). SQLite has one writer at a time: the race cannot happen
 * there.
 */
describe('reusing a given-back number under a concurrent reservation, on PostgreSQL', () => {
  const dir = testDataDir();
  let t: TestVault;
  let modelId: number;
  beforeAll(async () => {
    t = await startTestVault(dir, 'pg');
    modelId = (await t.vault.models.find('demo-brand', 'demo-model'))!.id;
  });
  afterAll(async () => {
    await t?.close();
    removeDataDir(dir);
  });

  /** Waits until a backend is blocked by the transaction of backend `holder`: the reuse statement waits for its row lock. */
  async function untilBlockedBy(holder: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const waiting = await t.vault.db.raw('select count(*)::int as n from pg_stat_activity where ? = any(pg_blocking_pids(pid))', [holder]);
      if ((waiting.rows[0] as { n: number }).n > 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the reuse statement never waited for the row lock');
  }

  it('takes the next free number when the lowest is taken under it, and leaves no gap', async () => {
    const now = new Date().toISOString();
    const counterNow = async () => Number((await t.vault.db('models').where({ id: modelId }).first('next_serial_number')).next_serial_number);
    // Two numbers taken and then given back: the counter is past them.
    const low = await counterNow();
    await t.vault.db('models').where({ id: modelId }).update({ next_serial_number: low + 2 });
    await t.vault.db('serial_reservations').insert([
      { model_id: modelId, number: low, state: 'free', updated_at: now },
      { model_id: modelId, number: low + 1, state: 'free', updated_at: now },
    ]);
    const serials = new SerialRepository(t.vault.db);
    const other = await t.vault.db.transaction();
    try {
      // Another request holds the lowest free number, not yet committed.
      await other('serial_reservations').where({ model_id: modelId, number: low }).update({ state: 'reserved', updated_at: now });
      const holder = ((await other.raw('select pg_backend_pid()::int as pid')).rows[0] as { pid: number }).pid;
      const reserving = serials.reserveNumber(modelId);
      await untilBlockedBy(holder);
      await other.commit();
      expect(await reserving).toBe(low + 1);
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }
    // The model's counter did not move: no new number was taken while one was free.
    expect(await counterNow()).toBe(low + 2);
  });
});
