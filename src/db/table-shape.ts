import type { Knex } from 'knex';

/** A table's columns and its primary key, in key order, read from the database itself. */
export interface TableShape {
  readonly columns: readonly string[];
  readonly pk: readonly string[];
}

/** Read the same way on both databases: change capture builds its triggers from it, the sync applier its upserts. */
export async function tableShape(db: Knex, table: string): Promise<TableShape> {
  if (db.client.config.client === 'pg') {
    const columns = Object.keys(await db(table).columnInfo());
    const { rows } = (await db.raw(
      `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = ?::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
      [table],
    )) as { rows: Array<{ name: string }> };
    return { columns, pk: rows.map((r) => r.name) };
  }
  const info = (await db.raw(`PRAGMA table_info(${table})`)) as Array<{ name: string; pk: number }>;
  return {
    columns: info.map((c) => c.name),
    pk: info
      .filter((c) => Number(c.pk) > 0)
      .sort((a, b) => Number(a.pk) - Number(b.pk))
      .map((c) => c.name),
  };
}
