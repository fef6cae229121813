interface Waiting<T, R> {
  readonly item: T;
  readonly resolve: (r: R) => void;
  readonly reject: (e: unknown) => void;
}

export interface GroupCommitOptions {
  /** Callers served by one commit at most (keeps a multi-row insert under SQLite's 999 bound parameters). */
  readonly maxBatch: number;
  /** When a batch fails, commit each of its items alone, so one bad item (a race lost to a unique key) fails only its caller. */
  readonly retryAlone: boolean;
}

/**
 * Group commits: every caller waiting while a commit runs goes into the
 * next one, so throughput does not depend on one transaction per caller
 * (on SQLite's single connection, measured in bench:serial, transactions
 * per registration were the largest share of the time it was held). Each
 * caller learns only the outcome of its own item. `commit` answers one
 * result per item, in order.
 */
export class GroupCommit<T, R> {
  private queue: Array<Waiting<T, R>> = [];
  private running = false;

  constructor(
    private readonly commit: (batch: readonly T[]) => Promise<readonly R[]>,
    private readonly options: GroupCommitOptions,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        try {
          const results = await this.commit(batch.map((w) => w.item));
          batch.forEach((w, i) => w.resolve(results[i] as R));
        } catch (e) {
          if (!this.options.retryAlone || batch.length === 1) {
            for (const w of batch) w.reject(e);
            continue;
          }
          for (const w of batch) {
            try {
              w.resolve((await this.commit([w.item]))[0] as R);
            } catch (alone) {
              w.reject(alone);
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}
