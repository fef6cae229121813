import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { GroupCommit } from './group-commit.js';
import type { NumberAllocator } from './number-allocator.js';

async function takeNumbers(numbers: NumberAllocator, trx: Database, modelId: number, n: number): Promise<number[]> {
  if (numbers.takeMany) return numbers.takeMany(trx, modelId, n);
  const taken: number[] = [];
  for (let i = 0; i < n; i++) {
    const one = await numbers.take(trx, modelId);
    if (one === undefined) break;
    taken.push(one);
  }
  return taken;
}

/**
 * New serial template numbers, each taken with its reservation in one
 * commit (a crash between the two would lose the number for good). Callers
 * waiting together share a group commit, which moves each model's counter
 * once by the number of its callers and records all their reservations in
 * one insert.
 */
export class NumberReservations {
  private readonly commits: GroupCommit<number, number | undefined>;

  constructor(
    private readonly db: Database,
    private readonly numbers: NumberAllocator,
    private readonly clock: () => Date,
  ) {
    this.commits = new GroupCommit((modelIds) => this.db.transaction((trx) => this.reserve(trx, modelIds)), { maxBatch: 200, retryAlone: false });
  }

  /** A new number of the model, reserved; undefined when none is at hand here (an appliance's leases used up, or the model gone). */
  take(modelId: number): Promise<number | undefined> {
    return this.commits.submit(modelId);
  }

  private async reserve(trx: Database, modelIds: readonly number[]): Promise<Array<number | undefined>> {
    const now = nowIso(this.clock());
    const byModel = new Map<number, number[]>();
    modelIds.forEach((id, i) => {
      const callers = byModel.get(id);
      if (callers) callers.push(i);
      else byModel.set(id, [i]);
    });
    const out: Array<number | undefined> = new Array<number | undefined>(modelIds.length).fill(undefined);
    const rows: Array<{ model_id: number; number: number; state: 'reserved'; updated_at: string }> = [];
    for (const [modelId, callers] of byModel) {
      const taken = await takeNumbers(this.numbers, trx, modelId, callers.length);
      taken.forEach((n, k) => {
        out[callers[k]!] = n;
        rows.push({ model_id: modelId, number: n, state: 'reserved', updated_at: now });
      });
    }
    if (rows.length > 0) await trx('serial_reservations').insert(rows);
    return out;
  }
}
