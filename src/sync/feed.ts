import { EventEmitter } from 'node:events';
import type { Database } from '../db/database.js';
import { COMMITTED } from '../audit/unit-of-work.js';
import { entitled, type Scope } from './entitlement.js';
import { SyncError } from './errors.js';
import { ScopeCache, feedHead } from './scope-cache.js';
import { closureOf, type RowImage } from './closure.js';
import type { ApplianceContext } from './upstream.js';

export interface FeedChange {
  readonly seq: number;
  readonly table: string;
  readonly op: 'upsert' | 'delete';
  readonly row: RowImage;
}

export interface FeedPage {
  /** In sequence order; rows a change brought into the appliance's scope come just before it, with its sequence number. */
  readonly changes: FeedChange[];
  /** The cursor to ask from next: past every change read, sent or not. */
  readonly next: number;
  /** The last change central holds: `head - next` is how far behind the appliance is. */
  readonly head: number;
}

export interface FeedOptions {
  /** Changes read from the feed per page (before filtering). */
  readonly pageRows?: number;
  /** How often a long-poll looks again when no commit of this process woke it (another replica's). */
  readonly pollMs?: number;
}

interface StoredRow {
  seq: number | string;
  tbl: string;
  pk: string;
  op: string;
  image: string;
}

/**
 * Central's change feed: the row images change capture wrote, in commit
 * order, filtered to what the asking appliance may see. A page holds each
 * row once, at its last change in the page (the applier defers foreign-key
 * checks to its commit, so the order within a page does not matter).
 */
export class ChangeFeed {
  private readonly scopes: ScopeCache;
  private readonly pageRows: number;
  private readonly pollMs: number;
  private readonly wake = new EventEmitter();

  constructor(
    private readonly db: Database,
    options: FeedOptions = {},
  ) {
    this.scopes = new ScopeCache(db);
    this.pageRows = options.pageRows ?? 2000;
    this.pollMs = options.pollMs ?? 250;
    this.wake.setMaxListeners(0);
    db.on(COMMITTED, () => this.wake.emit('commit'));
  }

  /** What the appliance may see now (the blob route asks before sending a file). */
  async scope(appliance: ApplianceContext): Promise<Scope> {
    return this.scopes.get(appliance, await this.head());
  }

  head(): Promise<number> {
    return feedHead(this.db);
  }

  /** The changes after `after`, at most `limit` read; none when the appliance is up to date. */
  async page(appliance: ApplianceContext, after: number, limit = this.pageRows): Promise<FeedPage> {
    if (!Number.isSafeInteger(after) || after < 0) throw new SyncError('ERR_SYNC_BATCH_INVALID', 'after must be a whole number of zero or more: the sequence of the last change applied');
    const head = await this.head();
    if (after > head) {
      throw new SyncError('ERR_SYNC_CURSOR_AHEAD', `the appliance asks for changes after ${after}, but central's feed ends at ${head}: central's database was restored or replaced; enrol the appliance again to start from a snapshot`);
    }
    const rows = (await this.db('sync_rows').where('seq', '>', after).orderBy('seq').limit(Math.max(1, Math.min(limit, this.pageRows))).select('seq', 'tbl', 'pk', 'op', 'image')) as StoredRow[];
    if (rows.length === 0) return { changes: [], next: after, head };
    const last = Number(rows[rows.length - 1]!.seq);
    const scope = await this.scopes.get(appliance, last);
    return { changes: await this.filter(rows, scope), next: last, head: Math.max(head, last) };
  }

  /** Notes where the appliance asked from: central's view of its lag (`sync status`, the dashboard). */
  async seen(appliance: ApplianceContext, cursor: number, head: number): Promise<void> {
    if (!Number.isSafeInteger(cursor) || cursor > head) return;
    await this.db('sync_positions')
      .insert({ appliance_id: appliance.id, cursor, head, seen_at: new Date().toISOString() })
      .onConflict('appliance_id')
      .merge();
  }

  /** Each appliance's last pull as central saw it. */
  async positions(): Promise<Array<{ applianceId: number; cursor: number; head: number; seenAt: string }>> {
    const rows = (await this.db('sync_positions').select('*')) as Array<Record<string, unknown>>;
    return rows.map((r) => ({ applianceId: Number(r['appliance_id']), cursor: Number(r['cursor']), head: Number(r['head']), seenAt: String(r['seen_at']) }));
  }

  /** A long-poll: answers as soon as there are changes for the appliance, or after `waitMs` with none. */
  async wait(appliance: ApplianceContext, after: number, waitMs: number, limit?: number, signal?: AbortSignal): Promise<FeedPage> {
    const until = Date.now() + waitMs;
    for (let cursor = after; ; ) {
      const page = await this.page(appliance, cursor, limit);
      // Changes the appliance may not see still move its cursor: answer them at once, or it re-reads them on every poll.
      if (page.changes.length > 0 || page.next !== after || Date.now() >= until || signal?.aborted) return page;
      cursor = page.next;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wake.off('commit', done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(this.pollMs, Math.max(0, until - Date.now())));
        this.wake.on('commit', done);
        signal?.addEventListener('abort', done);
      });
    }
  }

  private async filter(rows: readonly StoredRow[], scope: Scope): Promise<FeedChange[]> {
    const lastOf = new Map<string, number>();
    rows.forEach((r, i) => lastOf.set(`${r.tbl}\0${r.pk}`, i));
    const out: FeedChange[] = [];
    const sent = new Set<string>();
    for (const [i, r] of rows.entries()) {
      if (lastOf.get(`${r.tbl}\0${r.pk}`) !== i) continue;
      const row = JSON.parse(r.image) as RowImage;
      if (!entitled(r.tbl, row, scope)) continue;
      const seq = Number(r.seq);
      const op = r.op === 'delete' ? 'delete' : 'upsert';
      if (op === 'upsert') {
        for (const extra of await closureOf(this.db, r.tbl, row, Number(r.seq), scope)) {
          const key = `${extra.table}\0${JSON.stringify(extra.row)}`;
          if (sent.has(key)) continue;
          sent.add(key);
          out.push({ seq, table: extra.table, op: 'upsert', row: extra.row });
        }
      }
      out.push({ seq, table: r.tbl, op, row });
    }
    return out;
  }
}
