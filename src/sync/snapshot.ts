import type { Database } from '../db/database.js';
import { REPLICATED_TABLES } from '../db/replicated-tables.js';
import { entitled, loadScope } from './entitlement.js';
import { feedHead } from './scope-cache.js';
import type { ApplianceContext } from './upstream.js';

/** One line of a snapshot: first the head, then rows, parents before children, then the end with the count. */
export type SnapshotLine = { readonly head: number } | { readonly table: string; readonly row: Record<string, unknown> } | { readonly end: true; readonly rows: number };

const PAGE = 1000;

/** Every row of `table`, a page at a time, inside the snapshot's transaction. */
async function* tableRows(trx: Database, table: string, pg: boolean): AsyncGenerator<Record<string, unknown>> {
  if (pg) {
    // A cursor: the whole table is never held, and the rows are those of the transaction's snapshot.
    await trx.raw(`DECLARE sync_snapshot NO SCROLL CURSOR FOR SELECT * FROM ${table}`);
    try {
      for (;;) {
        const { rows } = (await trx.raw(`FETCH ${PAGE} FROM sync_snapshot`)) as { rows: Record<string, unknown>[] };
        yield* rows;
        if (rows.length < PAGE) return;
      }
    } finally {
      await trx.raw('CLOSE sync_snapshot');
    }
  }
  for (let after = -1; ; ) {
    const rows = (await trx.raw(`SELECT rowid AS sync_rowid, * FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE}`, [after])) as Array<Record<string, unknown>>;
    for (const r of rows) {
      after = Number(r['sync_rowid']);
      delete r['sync_rowid'];
      yield r;
    }
    if (rows.length < PAGE) return;
  }
}

/**
 * What a new appliance starts from: every row it is entitled to, as of one
 * moment of central's database (a repeatable-read transaction on
 * PostgreSQL), with the feed sequence it then follows from. Streamed: the
 * rows are never all held in memory on either side.
 */
export async function* snapshot(db: Database, appliance: ApplianceContext): AsyncGenerator<SnapshotLine> {
  const pg = db.client.config.client === 'pg';
  const trx = await db.transaction(pg ? { isolationLevel: 'repeatable read', readOnly: true } : undefined);
  try {
    const head = await feedHead(trx);
    yield { head };
    const scope = await loadScope(trx, appliance);
    let rows = 0;
    for (const { table, local = [] } of REPLICATED_TABLES) {
      for await (const row of tableRows(trx, table, pg)) {
        if (!entitled(table, row, scope)) continue;
        for (const c of local) delete row[c];
        rows++;
        yield { table, row };
      }
    }
    yield { end: true, rows };
    await trx.commit();
  } finally {
    if (!trx.isCompleted()) await trx.rollback().catch(() => undefined);
  }
}
