import { ProvisioningError } from './errors.js';

export interface QueueOptions {
  /** Registrations that may wait for the HSM at once; past this a device gets a 503 and comes back. */
  readonly max: number;
  /** How long a device's request waits for its serial before it is told 202 (come back later). */
  readonly answerWithinMs: number;
  /** How long the answer of a registration that finished after its 202 is kept for the re-post. */
  readonly keepAnswersMs: number;
}

export const QUEUE_DEFAULTS: QueueOptions = { max: 1000, answerWithinMs: 5000, keepAnswersMs: 600_000 };

/** A registration still being worked on: snapd re-posts the same serial-request later. */
export const PENDING = Symbol('pending');
export type Pending = typeof PENDING;

interface Job<T> {
  readonly done: Promise<T>;
  /** Some caller was told 202: the answer must wait for the re-post. */
  late: boolean;
}

interface Kept<T> {
  readonly outcome: { ok: true; value: T } | { ok: false; error: unknown };
  readonly until: number;
}

/**
 * Registrations waiting for a slow or saturated HSM, one job per
 * serial-request (by its hash). A request waits `answerWithinMs` at most:
 * then it is answered 202, and its job goes on. snapd posts the same
 * serial-request again later and gets the job's answer: the serial, or
 * the refusal it ended in. A re-post while the job runs joins it, so no
 * request is ever signed twice. Faults that may pass are not kept: the
 * re-post tries again.
 */
export class RegistrationQueue<T> {
  private readonly jobs = new Map<string, Job<T>>();
  private readonly answers = new Map<string, Kept<T>>();

  constructor(
    private readonly options: QueueOptions,
    private readonly keepError: (e: unknown) => boolean,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Registrations being worked on now. */
  get depth(): number {
    return this.jobs.size;
  }

  /** The answer for `key` within the wait, or PENDING; the work runs once per key while it is in flight or its answer kept. */
  async run(key: string, work: () => Promise<T>): Promise<T | Pending> {
    const kept = this.answers.get(key);
    if (kept && kept.until > this.now()) {
      if (kept.outcome.ok) return kept.outcome.value;
      throw kept.outcome.error;
    }
    let job = this.jobs.get(key);
    if (!job) {
      if (this.jobs.size >= this.options.max) {
        throw new ProvisioningError('ERR_QUEUE_FULL', `${this.jobs.size} registrations are waiting for the signing service; try again shortly`);
      }
      job = this.start(key, work);
    }
    let timer: NodeJS.Timeout | undefined;
    const current = job;
    const late = new Promise<Pending>((resolve) => {
      timer = setTimeout(() => {
        current.late = true;
        resolve(PENDING);
      }, this.options.answerWithinMs);
    });
    try {
      return await Promise.race([job.done, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private start(key: string, work: () => Promise<T>): Job<T> {
    const done = work();
    const job: Job<T> = { done, late: false };
    this.jobs.set(key, job);
    // Only answers someone will come back for are kept: one given at once needs no keeping.
    const until = () => this.now() + this.options.keepAnswersMs;
    done.then(
      (value) => {
        if (job.late) this.answers.set(key, { outcome: { ok: true, value }, until: until() });
      },
      (error: unknown) => {
        if (job.late && this.keepError(error)) this.answers.set(key, { outcome: { ok: false, error }, until: until() });
      },
    ).finally(() => {
      this.jobs.delete(key);
      this.prune();
    });
    // A job whose caller was answered 202 has no one awaiting it: its failure is kept, not unhandled.
    done.catch(() => undefined);
    return job;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, v] of this.answers) {
      if (v.until > now) break;
      this.answers.delete(k);
    }
  }

  /** Waits for every job in flight (a clean shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done));
  }
}
