import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { modelCounter, type NumberAllocator } from '../../src/provisioning/number-allocator.js';
import { NumberReservations } from '../../src/provisioning/number-reservations.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

/**
 * New template numbers: each is taken with its reservation in one commit,
 * and callers waiting together share one transaction that moves the
 * model's counter once.
 */
describe('number reservations on SQLite', () => {
  const dir = testDataDir();
  let t: TestVault;
  let modelId: number;
  beforeAll(async () => {
    t = await startTestVault(dir, 'sqlite');
    modelId = (await t.vault.models.find('demo-brand', 'demo-model'))!.id;
  });
  afterAll(async () => {
    await t?.close();
    removeDataDir(dir);
  });

  const counter = async () => Number((await t.vault.db('models').where({ id: modelId }).first('next_serial_number')).next_serial_number);
  const reserved = async (numbers: number[]) => (await t.vault.db('serial_reservations').where({ model_id: modelId, state: 'reserved' }).whereIn('number', numbers)).length;

  it('gives concurrent callers distinct consecutive numbers, each reserved, in fewer transactions than callers', async () => {
    let transactions = 0;
    const counting: NumberAllocator = {
      take: (trx, id) => modelCounter.take(trx, id),
      takeMany: (trx, id, n) => {
        transactions++;
        return modelCounter.takeMany!(trx, id, n);
      },
    };
    const before = await counter();
    const reservations = new NumberReservations(t.vault.db, counting, () => new Date());
    const numbers = (await Promise.all(Array.from({ length: 50 }, () => reservations.take(modelId)))) as number[];
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, k) => before + k));
    expect(await counter()).toBe(before + 50);
    expect(await reserved(numbers)).toBe(50);
    expect(transactions).toBeGreaterThan(0);
    expect(transactions).toBeLessThan(50);
  });

  it('takes one at a time from an allocator without takeMany, and answers undefined past what it has', async () => {
    let left = 2;
    let next = 1_000_000;
    const scarce: NumberAllocator = { take: async () => (left-- > 0 ? next++ : undefined) };
    const reservations = new NumberReservations(t.vault.db, scarce, () => new Date());
    const got = await Promise.all([reservations.take(modelId), reservations.take(modelId), reservations.take(modelId)]);
    expect(got).toEqual([1_000_000, 1_000_001, undefined]);
    expect(await reserved([1_000_000, 1_000_001])).toBe(2);
  });

  it('rejects every caller of a failed transaction and records none of their reservations', async () => {
    const failing: NumberAllocator = {
      take: async (trx: Database) => {
        await trx('serial_reservations').insert({ model_id: modelId, number: 2_000_000, state: 'reserved', updated_at: new Date().toISOString() });
        throw new Error('allocator broke');
      },
    };
    const reservations = new NumberReservations(t.vault.db, failing, () => new Date());
    const outcomes = await Promise.allSettled([reservations.take(modelId), reservations.take(modelId)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(await reserved([2_000_000])).toBe(0);
  });
});
