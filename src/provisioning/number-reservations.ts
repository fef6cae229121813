import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import type { NumberAllocator } from './number-allocator.js';

interface Waiting {
  readonly modelId: number;
  readonly resolve: (n: number | undefined) => void;
  readonly reject: (e: unknown) => void;
}

/** Callers served by one transaction at most: its reservation insert stays well under SQLite's 999 bound parameters. */
const MAX_BATCH = 200;

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
 * commit (a crash between the two would lose the number for good), in
 * group commits: every caller waiting when the database is free goes into
 * one transaction, which moves each model's counter once by the number of
 * its callers and records all their reservations in one insert. On
 * SQLite's single connection a transaction per registration was the
 * largest share of the time the connection was held (measured in
 * bench:serial).
 */
export class NumberReservations {
  private queue: Waiting[] = [];
  private running = false;

  constructor(
    private readonly db: Database,
    private readonly numbers: NumberAllocator,
    private readonly clock: () => Date,
  ) {}

  /** A new number of the model, reserved; undefined when none is at hand here (an appliance's leases used up, or the model gone). */
  take(modelId: number): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ modelId, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const taken = await this.db.transaction((trx) => this.reserve(trx, batch));
          batch.forEach((w, i) => w.resolve(taken[i]));
        } catch (e) {
          for (const w of batch) w.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async reserve(trx: Database, batch: readonly Waiting[]): Promise<Array<number | undefined>> {
    const now = nowIso(this.clock());
    const byModel = new Map<number, number[]>();
    batch.forEach((w, i) => byModel.set(w.modelId, [...(byModel.get(w.modelId) ?? []), i]));
    const out: Array<number | undefined> = new Array<number | undefined>(batch.length).fill(undefined);
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
