import type { Database } from '../db/database.js';
import { REPLICATED_TABLES, isReplicated } from '../db/replicated-tables.js';
import { tableShape } from '../db/table-shape.js';
import { COMMITTED } from '../audit/unit-of-work.js';
import { SyncError } from './errors.js';
import type { FeedPage } from './feed.js';
import type { SnapshotLine } from './snapshot.js';

/** Tables whose rows name a snap by its row id in `snap`. */
const SNAP_TABLES: ReadonlySet<string> = new Set(['snap_revisions', 'channel_releases', 'channel_heads', 'store_curation', 'store_pins']);

const CURSOR = 'sync-cursor';
const HEAD = 'sync-head';
const CURRENT_AT = 'sync-current-at';

/** Where this appliance stands with central's feed, as its last applied page left it (readable by any process). */
export interface FeedPosition {
  readonly cursor: number | undefined;
  readonly head: number | undefined;
  /** When the appliance last applied everything central had. */
  readonly currentAt: string | undefined;
}
const BATCH = 200;

interface TableShape {
  readonly columns: ReadonlySet<string>;
  readonly pk: readonly string[];
}

/**
 * The only writer of replicated tables on an appliance. Each snapshot and
 * each page of the feed is applied in one transaction that sets
 * `sync_guard.applying` first (so the read-only triggers let it through and
 * change capture stays quiet), defers foreign-key checks to its commit, and
 * stores the feed cursor with the rows: after a crash the appliance asks
 * again from the last page it committed, and applying a page twice changes
 * nothing.
 */
export class Applier {
  private shapes = new Map<string, TableShape>();

  constructor(private readonly db: Database) {}

  /** The last feed sequence applied (undefined before the first snapshot). */
  async cursor(db: Database = this.db): Promise<number | undefined> {
    const row = (await db('settings').where({ name: CURSOR }).first('value')) as { value?: string } | undefined;
    return row?.value === undefined ? undefined : Number(row.value);
  }

  async position(db: Database = this.db): Promise<FeedPosition> {
    const rows = (await db('settings').whereIn('name', [CURSOR, HEAD, CURRENT_AT]).select('name', 'value')) as Array<{ name: string; value: string }>;
    const get = (name: string) => rows.find((r) => r.name === name)?.value;
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    return { cursor: num(get(CURSOR)), head: num(get(HEAD)), currentAt: get(CURRENT_AT) };
  }

  /**
   * Replaces every replicated row with the snapshot's, and makes this
   * vault an appliance: from then on only the applier writes those tables.
   */
  async applySnapshot(lines: AsyncIterable<SnapshotLine>, onProgress?: (rows: number) => void): Promise<{ head: number; rows: number }> {
    return this.inApply(async (trx) => {
      let head: number | undefined;
      let rows = 0;
      let ended = false;
      const seen = new Map<string, Set<string>>();
      const pending = new Map<string, Record<string, unknown>[]>();
      const flush = async (table: string) => {
        const batch = pending.get(table);
        if (batch && batch.length > 0) await this.upsert(trx, table, batch);
        pending.set(table, []);
      };
      for await (const line of lines) {
        if ('head' in line) head = line.head;
        else if ('end' in line) {
          if (line.rows !== rows) throw new SyncError('ERR_SYNC_BATCH_INVALID', `the snapshot says it sent ${line.rows} rows, ${rows} arrived: nothing of it was applied`);
          ended = true;
        } else {
          if (head === undefined || !isReplicated(line.table)) throw new SyncError('ERR_SYNC_BATCH_INVALID', `the snapshot has a row of "${line.table}" ${head === undefined ? 'before its head' : 'which is not replicated'}`);
          const shape = await this.shape(trx, line.table);
          (seen.get(line.table) ?? seen.set(line.table, new Set()).get(line.table)!).add(keyOf(shape, line.row));
          const batch = pending.get(line.table) ?? [];
          batch.push(line.row);
          pending.set(line.table, batch);
          rows++;
          if (batch.length >= BATCH) await flush(line.table);
          if (rows % 10_000 === 0) onProgress?.(rows);
        }
      }
      if (head === undefined || !ended) throw new SyncError('ERR_UPSTREAM_UNAVAILABLE', 'the snapshot from central was cut short: nothing of it was applied; it is asked for again');
      for (const table of pending.keys()) await flush(table);
      // What central no longer has, or no longer shows this appliance, goes: children first.
      for (const { table } of [...REPLICATED_TABLES].reverse()) {
        const shape = await this.shape(trx, table);
        const keep = seen.get(table) ?? new Set<string>();
        const gone = ((await trx(table).select(...shape.pk)) as Record<string, unknown>[]).filter((r) => !keep.has(keyOf(shape, r)));
        for (const r of gone) await trx(table).where(pkWhere(shape, r)).delete();
      }
      await trx('sync_guard').where({ name: 'sync' }).update({ role: 'appliance' });
      // Whatever this process held of the catalog (the offer index) is read again.
      await trx('outbox').insert({ entity: 'sync', key: 'all', op: 'sync.snapshot', at: new Date().toISOString() });
      await this.setCursor(trx, head, head);
      return { head, rows };
    });
  }

  /** Applies one page of the feed; a page from before the cursor (a retry that already committed) changes nothing. */
  async applyPage(page: FeedPage, from: number): Promise<number> {
    return this.inApply(async (trx) => {
      const at = await this.cursor(trx);
      if (at === undefined) throw new SyncError('ERR_SYNC_ROLE', 'this vault has no snapshot from central yet: it takes one before following the feed');
      if (at !== from) return at;
      const snaps = new Set<number>();
      for (const c of page.changes) {
        if (!isReplicated(c.table)) throw new SyncError('ERR_SYNC_BATCH_INVALID', `change ${c.seq} is for "${c.table}", which is not replicated: nothing of the page was applied`);
        const shape = await this.shape(trx, c.table);
        const snap = c.table === 'snaps' ? c.row['id'] : SNAP_TABLES.has(c.table) ? c.row['snap'] : undefined;
        if (snap !== undefined && snap !== null) snaps.add(Number(snap));
        if (c.op === 'delete') await trx(c.table).where(pkWhere(shape, c.row)).delete();
        else await this.upsert(trx, c.table, [c.row]);
      }
      await this.announce(trx, page, snaps);
      await this.setCursor(trx, page.next, page.head);
      return page.next;
    });
  }

  /**
   * The outbox rows the catalog's offer index follows, as a unit of work
   * would have written them: each snap the page changed, by name.
   */
  private async announce(trx: Database, page: FeedPage, snaps: ReadonlySet<number>): Promise<void> {
    if (page.changes.length === 0) return;
    const at = new Date().toISOString();
    const names = snaps.size > 0 ? ((await trx('snaps').whereIn('id', [...snaps]).select('name')) as Array<{ name: string }>).map((r) => r.name) : [];
    const deleted = page.changes.filter((c) => c.table === 'snaps' && c.op === 'delete').map((c) => String(c.row['name']));
    const rows = [...new Set([...names, ...deleted])].map((name) => ({ entity: 'snap', key: name, op: 'sync.apply', at }));
    rows.push({ entity: 'sync', key: 'page', op: 'sync.apply', at });
    for (let i = 0; i < rows.length; i += BATCH) await trx('outbox').insert(rows.slice(i, i + BATCH));
  }

  private async inApply<T>(work: (trx: Database) => Promise<T>): Promise<T> {
    const sqlite = this.db.client.config.client !== 'pg';
    const result = await this.db.transaction(async (trx) => {
      await trx('sync_guard').where({ name: 'sync' }).update({ applying: 1 });
      if (sqlite) await trx.raw('PRAGMA defer_foreign_keys = ON');
      else await trx.raw('SET CONSTRAINTS ALL DEFERRED');
      const out = await work(trx);
      await trx('sync_guard').where({ name: 'sync' }).update({ applying: 0 });
      return out;
    });
    this.db.emit(COMMITTED);
    return result;
  }

  private async setCursor(trx: Database, seq: number, head: number): Promise<void> {
    const rows = [
      { name: CURSOR, value: String(seq) },
      { name: HEAD, value: String(head) },
      ...(seq >= head ? [{ name: CURRENT_AT, value: new Date().toISOString() }] : []),
    ];
    await trx('settings').insert(rows).onConflict('name').merge();
  }

  /** Inserts or replaces rows by primary key; columns this vault does not know (a newer central) are left out. */
  private async upsert(trx: Database, table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    const shape = await this.shape(trx, table);
    const known = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => shape.columns.has(k)).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : v])));
    const merge = [...shape.columns].filter((c) => !shape.pk.includes(c) && known[0] && c in known[0]);
    for (let i = 0; i < known.length; i += BATCH) {
      const q = trx(table).insert(known.slice(i, i + BATCH)).onConflict([...shape.pk]);
      await (merge.length > 0 ? q.merge(merge) : q.ignore());
    }
  }

  private async shape(db: Database, table: string): Promise<TableShape> {
    const had = this.shapes.get(table);
    if (had) return had;
    const local = REPLICATED_TABLES.find((t) => t.table === table)?.local ?? [];
    const { columns, pk } = await tableShape(db, table);
    const shape = { columns: new Set(columns.filter((c) => !local.includes(c))), pk };
    this.shapes.set(table, shape);
    return shape;
  }
}

const keyOf = (shape: TableShape, row: Record<string, unknown>) => JSON.stringify(shape.pk.map((c) => String(row[c])));
const pkWhere = (shape: TableShape, row: Record<string, unknown>) => Object.fromEntries(shape.pk.map((c) => [c, row[c]])) as Record<string, string | number>;
