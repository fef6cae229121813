import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { CheckpointResult } from './checkpoints.js';
import { COMMITTED } from './unit-of-work.js';

export interface CheckpointSchedule {
  /** Sign once this many entries were written since the last checkpoint. */
  readonly every: number;
  /** Sign every this often when any entry was written since. */
  readonly intervalMs: number;
  /** How long after a commit the head is read: a burst of commits costs one read. */
  readonly settleMs?: number;
}

export interface CheckpointWork {
  /** The sequence number of the last entry written. */
  headSeq(): Promise<number>;
  /** The last entry a checkpoint covers (0: none). */
  lastSignedSeq(): Promise<number>;
  checkpoint(): Promise<CheckpointResult>;
}

/**
 * Checkpoints in the server process, in the background: a look at the head
 * shortly after commits (the `COMMITTED` event of the unit of work) and
 * every `intervalMs`. Never inside a request's transaction, never failing a
 * request; one attempt at a time. A failure is logged once (and again only
 * after checkpoints resumed); after one, commits stop triggering attempts
 * until the next interval, so a missing HSM is not asked again per request.
 */
export class BackgroundCheckpoints {
  private signedSeq: number | undefined;
  private running: Promise<void> | undefined;
  private settle: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private failing = false;
  /** A commit came while an attempt ran: look again once it is done. */
  private again = false;
  private stopped = true;
  private readonly onCommit = () => this.soon();

  constructor(
    private readonly events: EventEmitter,
    private readonly work: CheckpointWork,
    private readonly schedule: CheckpointSchedule,
    private readonly logger: Pick<Logger, 'info' | 'error'>,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.events.on(COMMITTED, this.onCommit);
    this.interval = setInterval(() => this.attempt('interval'), this.schedule.intervalMs);
    this.interval.unref();
  }

  /** Stops the schedule and waits for an attempt in progress (so the database is not closed under it). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.events.off(COMMITTED, this.onCommit);
    clearInterval(this.interval);
    clearTimeout(this.settle);
    this.settle = undefined;
    await this.running;
  }

  private soon(): void {
    if (this.stopped || this.settle || this.failing) return;
    this.settle = setTimeout(() => {
      this.settle = undefined;
      this.attempt('count');
    }, this.schedule.settleMs ?? 200);
    this.settle.unref();
  }

  private attempt(why: 'count' | 'interval'): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run(why).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.soon();
      }
    });
  }

  private async run(why: 'count' | 'interval'): Promise<void> {
    try {
      const head = await this.work.headSeq();
      this.signedSeq ??= await this.work.lastSignedSeq();
      const unsigned = head - this.signedSeq;
      if (unsigned <= 0 || (why === 'count' && unsigned < this.schedule.every)) return;
      const result = await this.work.checkpoint();
      this.signedSeq = result.checkpoint?.seq ?? 0;
      if (this.failing) this.logger.info({ seq: this.signedSeq }, 'audit checkpoints resumed');
      else if (result.made) this.logger.info({ seq: this.signedSeq }, 'audit checkpoint signed');
      this.failing = false;
    } catch (e) {
      // Read again next time: another process may have signed, or the head moved.
      this.signedSeq = undefined;
      if (this.failing) return;
      this.failing = true;
      const err = e as { code?: unknown; message?: unknown };
      this.logger.error({ code: err.code, reason: String(err.message ?? e) }, 'cannot sign an audit checkpoint; trying again at the next interval');
    }
  }
}
