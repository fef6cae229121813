import type { Database } from './database.js';

/**
 * The rows of `table` with `column` after `after` and up to `upto` (all of
 * them without it), in that column's order, read a page at a time: a long
 * table is walked without being held in memory, by key, not by offset.
 */
export async function* rowsInOrder(db: Database, table: string, column: string, range: { after?: number; upto?: number } = {}, pageSize = 1000): AsyncGenerator<Record<string, unknown>> {
  for (let from = range.after ?? 0; ; ) {
    const q = db(table).where(column, '>', from).orderBy(column).limit(pageSize);
    if (range.upto !== undefined) q.where(column, '<=', range.upto);
    const page = (await q) as Record<string, unknown>[];
    yield* page;
    if (page.length < pageSize) return;
    from = Number(page[page.length - 1]?.[column]);
  }
}
