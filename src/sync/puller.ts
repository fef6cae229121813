import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { isVaultError } from '../errors.js';
import type { Applier } from './applier.js';
import { SyncError } from './errors.js';
import type { FeedPage } from './feed.js';
import { SYNC_RETRY_POLICY, backoffDelay } from './retry-policy.js';
import type { SnapshotLine } from './snapshot.js';
import type { Upstream } from './upstream.js';

export interface PullStatus {
  /** The last feed sequence applied; undefined before the first snapshot. */
  readonly cursor: number | undefined;
  /** Central's last sequence, as last heard. */
  readonly head: number | undefined;
  /** Changes central holds that this appliance has not applied (some may not be for it). */
  readonly changesBehind: number | undefined;
  /** Seconds since the appliance last knew itself up to date with central. */
  readonly lagSeconds: number | undefined;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string } | undefined;
}

export interface PullerOptions {
  readonly waitSeconds: number;
  readonly logger: Logger;
  readonly clock?: () => number;
  /** Called after each page or snapshot is applied (metrics, tests). */
  readonly onApplied?: () => void;
}

/** A snapshot's NDJSON lines, parsed as they arrive. */
async function* snapshotLines(body: Readable): AsyncGenerator<SnapshotLine> {
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as SnapshotLine;
    } catch {
      throw new SyncError('ERR_SYNC_BATCH_INVALID', 'central sent a snapshot line that is not JSON: nothing of it was applied');
    }
  }
}

/** The feed position as the applier stored it, with the lag worked out. */
export async function pullPosition(applier: Applier, clock: () => number = Date.now): Promise<Omit<PullStatus, 'lastError'>> {
  const p = await applier.position();
  return {
    cursor: p.cursor,
    head: p.head,
    changesBehind: p.head !== undefined && p.cursor !== undefined ? Math.max(0, p.head - p.cursor) : undefined,
    lagSeconds: p.currentAt === undefined ? undefined : Math.max(0, (clock() - Date.parse(p.currentAt)) / 1000),
  };
}

/**
 * The appliance's pull loop: a snapshot first, then the change feed by
 * long-poll, each page applied in one transaction with its cursor. A cut
 * link, a timeout or central answering 5xx is waited out with the sync
 * retry policy's backoff, for as long as it lasts: the appliance goes on
 * serving from what it holds meanwhile.
 */
export class Puller {
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private lastError: PullStatus['lastError'];
  private readonly clock: () => number;

  constructor(
    private readonly upstream: Upstream,
    private readonly applier: Applier,
    private readonly options: PullerOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** One step: a snapshot when there is none, else one page of the feed. Resolves to whether it applied changes. */
  async step(wait = this.options.waitSeconds): Promise<boolean> {
    const cursor = await this.applier.cursor();
    if (cursor === undefined) {
      const body = await this.upstream.stream('/sync/v1/snapshot', { timeoutMs: 600_000 });
      const { head, rows } = await this.applier.applySnapshot(snapshotLines(body), (n) => this.options.logger.info({ rows: n }, 'sync: applying the snapshot from central'));
      this.options.logger.info({ head, rows }, 'sync: snapshot from central applied');
      this.heard();
      return rows > 0 || head > 0;
    }
    const page = await this.upstream.request<FeedPage>('GET', '/sync/v1/changes', { query: { after: cursor, wait }, timeoutMs: (wait + 15) * 1000 });
    const next = await this.applier.applyPage(page, cursor);
    this.heard();
    return next !== cursor;
  }

  /** Read from the database, so `serial-vault sync status` in another process sees the same. */
  async status(): Promise<PullStatus> {
    return { ...(await pullPosition(this.applier, this.clock)), lastError: this.lastError };
  }

  private heard(): void {
    this.lastError = undefined;
    this.options.onApplied?.();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        await this.step();
        failures = 0;
      } catch (e) {
        if (this.abort.signal.aborted) return;
        failures++;
        const code = isVaultError(e) ? e.code : 'ERR_INTERNAL';
        const message = isVaultError(e) ? e.message : 'the pull failed';
        this.lastError = { code, message, at: new Date(this.clock()).toISOString() };
        // Logged once per run of failures, then every tenth: an appliance offline for hours does not fill its log.
        if (failures === 1 || failures % 10 === 0) this.options.logger.warn({ code, failures, ...(isVaultError(e) ? {} : { err: e }) }, `sync: pull from central failed: ${message}`);
        await this.sleep(backoffDelay(SYNC_RETRY_POLICY, Math.min(failures, 8)) + (code === 'ERR_UPSTREAM_UNAVAILABLE' ? 0 : SYNC_RETRY_POLICY.maxDelayMs));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.abort.signal.removeEventListener('abort', wake);
        resolve();
      }, ms);
      this.abort.signal.addEventListener('abort', wake, { once: true });
    });
  }
}
