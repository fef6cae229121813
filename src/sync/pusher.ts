import type { Database } from '../db/database.js';
import { VaultError } from '../errors.js';
import { SyncError } from './errors.js';
import { PUSH_BATCH_ROWS, PUSH_KINDS, type PushAnswer, type PushKind, type PushRow } from './push-batch.js';
import { backlog, cursor, markCounters, rowsAfter, setAcked } from './push-source.js';
import { backoffDelay, SYNC_RETRY_POLICY, type RetryPolicy } from './retry-policy.js';
import type { Upstream } from './upstream.js';

export interface PusherOptions {
  /** config.upstream.pushEverySeconds, in milliseconds. */
  readonly everyMs: number;
  readonly batchRows?: number;
  /** How long to wait after a failed round: the named sync policy's backoff, capped at its maximum. */
  readonly retry?: RetryPolicy;
  readonly clock?: () => Date;
  /** Told of a round that failed (the sync agent logs it; the error carries no secret). */
  readonly onError?: (e: unknown) => void;
}

export interface PushStatus {
  /** Local rows central has not acknowledged, per kind. */
  readonly backlog: Readonly<Record<PushKind, number>>;
  readonly lastPushAt: string | undefined;
  /** How the last round failed; cleared by the next round that goes through. */
  readonly lastError: { readonly at: string; readonly code: string; readonly message: string } | undefined;
}

/**
 * The appliance's side of a push: its issuance log, audit checkpoints and
 * station counters go to central in batches after the sequence central
 * last acknowledged, every `everyMs`, and at once again while batches come
 * back full. Delivery is at least once: the local cursor moves only after
 * central answered, and a batch sent again is counted there as duplicates.
 * A push is safe to repeat, so a round that fails is simply tried again
 * after the retry policy's backoff.
 */
export class Pusher {
  private readonly clock: () => Date;
  private readonly rows: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private failures = 0;
  private lastPushAt: string | undefined;
  private lastError: PushStatus['lastError'];

  constructor(
    private readonly db: Database,
    private readonly upstream: Upstream,
    private readonly options: PusherOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.rows = options.batchRows ?? PUSH_BATCH_ROWS;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the timer and waits for a round under way (its answer still moves the cursor). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Pushes everything there is now; rejects with the round's error. Used by the timer and by `serial-vault sync push`. */
  pushNow(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async status(): Promise<PushStatus> {
    const counts = await Promise.all(PUSH_KINDS.map(async (k) => [k, await backlog(this.db, k, (await cursor(this.db, k)).acked)] as const));
    return { backlog: Object.fromEntries(counts) as Record<PushKind, number>, lastPushAt: this.lastPushAt, lastError: this.lastError };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pushNow().then(
        () => {
          this.failures = 0;
          this.schedule(this.options.everyMs);
        },
        () => {
          this.failures++;
          const policy = this.options.retry ?? SYNC_RETRY_POLICY;
          this.schedule(Math.max(this.options.everyMs, backoffDelay(policy, this.failures)));
        },
      );
    }, ms);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    try {
      await markCounters(this.db);
      for (const kind of PUSH_KINDS) await this.pushKind(kind);
      // A round that went through clears the alarm of the last one that failed.
      this.lastError = undefined;
    } catch (e) {
      this.lastError = { at: this.clock().toISOString(), code: e instanceof VaultError ? e.code : 'ERR_INTERNAL', message: e instanceof VaultError ? e.message : 'the push could not be read or recorded locally' };
      this.options.onError?.(e);
      throw e;
    }
  }

  /**
   * Batches of one kind until one comes back short (nothing more waiting).
   * The next batch is read while central takes this one; it is used only
   * when central acknowledged exactly what was sent.
   */
  private async pushKind(kind: PushKind): Promise<void> {
    let { acked } = await cursor(this.db, kind);
    let resyncs = 0;
    let ahead: Promise<PushRow[]> | undefined;
    for (;;) {
      const rows = await (ahead ?? rowsAfter(this.db, kind, acked, this.rows));
      ahead = undefined;
      if (rows.length === 0) return;
      const sent = rows[rows.length - 1]!.seq;
      const next = rows.length < this.rows ? undefined : rowsAfter(this.db, kind, sent, this.rows);
      // A read that fails is read again in the loop, not left unhandled.
      next?.catch(() => undefined);
      let answer: PushAnswer;
      try {
        answer = await this.upstream.request<PushAnswer>('POST', '/sync/v1/push', { json: { kind, after: acked, rows } });
      } catch (e) {
        // Central holds less than this cursor says (its database restored): go back to where it stands.
        if (!(e instanceof SyncError && e.code === 'ERR_SYNC_OUT_OF_ORDER') || resyncs++ > 0) throw e;
        acked = expectedSequence(e);
        await setAcked(this.db, kind, acked);
        continue;
      }
      if (!Number.isSafeInteger(answer.acked) || answer.acked < 0) throw new SyncError('ERR_UPSTREAM_UNAVAILABLE', `central answered a ${kind} push without a sequence it acknowledged`);
      acked = answer.acked;
      await setAcked(this.db, kind, acked);
      this.lastPushAt = this.clock().toISOString();
      if (!next) return;
      if (acked === sent) ahead = next.catch(() => rowsAfter(this.db, kind, acked, this.rows));
    }
  }
}

/**
 * Where central wants the next batch to start. Its refusal carries the
 * sequence in `detail.expected` when the client passes it on; without it,
 * starting from 0 is always right (everything central has is then counted
 * as duplicates), only slower.
 */
function expectedSequence(e: SyncError): number {
  const expected = e.detail?.['expected'];
  return typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0 ? expected : 0;
}
