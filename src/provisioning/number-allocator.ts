import type { Database } from '../db/database.js';
import { ProvisioningError } from './errors.js';

/**
 * Where the numbers of a model's serial template come from. An
 * authoritative instance counts them in `models.next_serial_number`; an
 * appliance takes them from the ranges central leased it (sync/lease-keeper),
 * because the model row is central's and two appliances counting it apart
 * would hand out the same serials.
 */
export interface NumberAllocator {
  /** Takes the model's next number in the caller's transaction, or undefined when none is at hand here. */
  take(trx: Database, modelId: number): Promise<number | undefined>;
  /** Takes up to `n` of the model's next numbers in one step (fewer, or none, when fewer are at hand); without it, `take` is called `n` times. */
  takeMany?(trx: Database, modelId: number, n: number): Promise<number[]>;
  /** Makes numbers available after `take` found none (an appliance asks central for a lease); throws when it cannot. */
  replenish?(modelId: number): Promise<void>;
}

/**
 * The authoritative counter: one statement moves it, atomic on both
 * databases and across processes. On an appliance (sync_guard) the same
 * statement moves nothing: a vault wired without its lease keeper must not
 * count central's numbers on its own copy, where another appliance counts
 * the same ones.
 */
export const modelCounter: NumberAllocator = {
  async take(trx, modelId) {
    return (await takeFromCounter(trx, modelId, 1))[0];
  },
  takeMany: takeFromCounter,
};

/** The model's next `n` numbers, off its counter in one statement; none on an appliance (its numbers are leased). */
async function takeFromCounter(trx: Database, modelId: number, n: number): Promise<number[]> {
  const [taken] = await trx('models')
    .where({ id: modelId })
    .whereNotExists(trx('sync_guard').where({ name: 'sync', role: 'appliance' }))
    .increment('next_serial_number', n)
    .returning('next_serial_number');
  if (taken !== undefined) {
    const next = Number(typeof taken === 'object' ? (taken as { next_serial_number: number }).next_serial_number : taken);
    return Array.from({ length: n }, (_, k) => next - n + k);
  }
  if (await trx('sync_guard').where({ name: 'sync', role: 'appliance' }).first()) {
    throw new ProvisioningError('ERR_TEMPORARILY_UNAVAILABLE', "this appliance numbers serials from ranges central leases it, and was started without its lease keeper; the operator must restart it with sync set up");
  }
  return [];
}
