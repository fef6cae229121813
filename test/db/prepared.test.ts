import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { preparedFirst } from '../../src/db/prepared.js';
import { freshPostgresDatabase } from '../support/postgres.js';

const byName = preparedFirst<{ id: number; name: string }>('select id, name from things where name = ? limit 1');

/**
 * The one-row reads the device paths run for every request: prepared once
 * per SQLite connection, the same answers as any query on both databases,
 * inside a transaction its view, and a connection that held them still
 * closes cleanly.
 */
describe.each(['sqlite', 'pg'] as const)('prepared reads on %s', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'sv-prepared-'));
  const file = join(dir, 'vault.db');
  let db: Database;
  beforeAll(async () => {
    db = kind === 'sqlite' ? openDatabase({ client: 'sqlite', filename: file }) : openDatabase({ client: 'pg', connection: await freshPostgresDatabase() });
    await db.schema.createTable('things', (t) => {
      t.increments('id');
      t.string('name').unique();
    });
    await db('things').insert([{ name: 'a' }, { name: 'b' }]);
  });
  afterAll(async () => {
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the first row, or nothing, as the query builder does', async () => {
    for (const name of ['a', 'b', 'none']) {
      expect(await byName(db, [name])).toEqual(await db('things').where({ name }).first('id', 'name'));
    }
    expect(await byName(db, ['none'])).toBeUndefined();
  });

  it('gives many concurrent callers each their own row', async () => {
    const names = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 'a' : i % 3 === 1 ? 'b' : 'none'));
    const rows = await Promise.all(names.map((n) => byName(db, [n])));
    expect(rows.map((r) => r?.name ?? 'none')).toEqual(names);
  });

  it("reads inside a transaction see that transaction's own writes", async () => {
    await db
      .transaction(async (trx) => {
        await trx('things').insert({ name: 'uncommitted' });
        expect((await byName(trx, ['uncommitted']))?.name).toBe('uncommitted');
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await byName(db, ['uncommitted'])).toBeUndefined();
  });

  it('is timed like every other statement (knex query events)', async () => {
    const seen: string[] = [];
    const onResponse = (_: unknown, q: { sql: string }) => seen.push(q.sql);
    db.on('query-response', onResponse);
    try {
      await byName(db, ['a']);
    } finally {
      db.off('query-response', onResponse);
    }
    // PostgreSQL's is numbered ($1), as knex sends it.
    expect(seen.some((sql) => /^select id, name from things where name = (\?|\$1) limit 1$/.test(sql))).toBe(true);
  });

  it('reports a statement that cannot run, and runs again once it can', async () => {
    const missing = preparedFirst<{ n: number }>('select count(*) as n from later');
    await expect(missing(db, [])).rejects.toThrow(/later/);
    await db.schema.createTable('later', (t) => t.increments('id'));
    expect(Number((await missing(db, []))?.n)).toBe(0);
  });

  it.runIf(kind === 'sqlite')('holds no snapshot between reads: what another process commits is seen at once', async () => {
    expect((await byName(db, ['a']))?.name).toBe('a');
    const other = openDatabase({ client: 'sqlite', filename: file });
    try {
      await other('things').insert({ name: 'from-elsewhere' });
    } finally {
      await other.destroy();
    }
    // Through another statement on the same connection: a prepared read left mid-way would hold the whole connection's snapshot.
    expect((await db('things').where({ name: 'from-elsewhere' }).first())?.name).toBe('from-elsewhere');
    expect((await byName(db, ['from-elsewhere']))?.name).toBe('from-elsewhere');
  });

  it.runIf(kind === 'sqlite')('still reads after the table is rebuilt (SQLite prepares it again)', async () => {
    await byName(db, ['a']);
    await db.schema.dropTable('things');
    await db.schema.createTable('things', (t) => {
      t.increments('id');
      t.string('name').unique();
    });
    await db('things').insert({ name: 'rebuilt' });
    expect((await byName(db, ['rebuilt']))?.name).toBe('rebuilt');
  });

  it.runIf(kind === 'sqlite')('closes the connection that holds prepared statements: the write-ahead log is folded in and removed', async () => {
    const other = openDatabase({ client: 'sqlite', filename: join(dir, 'closing.db') });
    await other.schema.createTable('things', (t) => {
      t.increments('id');
      t.string('name');
    });
    await other('things').insert({ name: 'kept' });
    expect((await byName(other, ['kept']))?.name).toBe('kept');
    expect(existsSync(join(dir, 'closing.db-wal'))).toBe(true);
    await other.destroy();
    // SQLite removes the log only when the last connection really closes; one left open (statements unfinalized) keeps it.
    expect(existsSync(join(dir, 'closing.db-wal'))).toBe(false);
    const again = openDatabase({ client: 'sqlite', filename: join(dir, 'closing.db') });
    try {
      expect((await byName(again, ['kept']))?.name).toBe('kept');
    } finally {
      await again.destroy();
    }
  });
});
