import type { Knex } from 'knex';

/** The database or a transaction (database.ts names it Database; imported from knex here, as database.ts imports this). */
type Database = Knex;

/** What these reads bind: both drivers take these as they are. */
export type Binding = string | number | null;

/** The parts of a node-sqlite3 connection and statement used here. */
interface SqliteStatement {
  all(bindings: readonly Binding[], cb: (err: Error | null, rows: unknown[]) => void): void;
  finalize(cb?: () => void): void;
}
interface SqliteConnection {
  prepare(sql: string, cb: (err: Error | null) => void): SqliteStatement;
  close(cb: (err: Error | null) => void): void;
}

/** Each SQLite connection's prepared statements, by SQL text: a statement is used once its prepare has succeeded. */
const prepared = new WeakMap<object, Map<string, Promise<SqliteStatement>>>();

/**
 * SQLite will not close a connection while statements are prepared on it:
 * the first statement prepared on a connection makes its close finalize
 * them all first.
 */
function finalizeStatementsOnClose(c: SqliteConnection): void {
  const close = c.close.bind(c);
  c.close = (cb) => {
    const statements = [...(prepared.get(c)?.values() ?? [])];
    prepared.delete(c);
    const finalized = statements.map((p) => p.then((s) => new Promise<void>((resolve) => s.finalize(() => resolve())), () => undefined));
    void Promise.all(finalized).then(() => close(cb));
  };
}

const statementFor = (conn: SqliteConnection, sql: string): Promise<SqliteStatement> => {
  let statements = prepared.get(conn);
  if (!statements) {
    prepared.set(conn, (statements = new Map()));
    finalizeStatementsOnClose(conn);
  }
  const held = statements.get(sql);
  if (held) return held;
  const made = new Promise<SqliteStatement>((resolve, reject) => {
    const s = conn.prepare(sql, (err) => (err ? reject(err) : resolve(s)));
  });
  // One that cannot be prepared (no such table yet) is tried again next time.
  made.catch(() => statements.get(sql) === made && statements.delete(sql));
  statements.set(sql, made);
  return made;
};

/** A statement that failed to run is prepared again next time (a schema change, a lock): this one is let go. */
const forget = (conn: SqliteConnection, sql: string): void => {
  const statements = prepared.get(conn);
  void statements?.get(sql)?.then((s) => s.finalize(), () => undefined);
  statements?.delete(sql);
};

let uid = 0;

/**
 * A one-row read that the device paths run for every request, prepared once
 * per SQLite connection instead of being built, compiled and prepared anew
 * each time (measured: about 125 µs of CPU per query through the builder,
 * about 55 µs prepared). It takes its connection from the same pool as
 * every other query, so it waits for a transaction holding it like any
 * query would. Inside a transaction, and on PostgreSQL, it runs as a plain
 * raw query. `sql` uses `?` placeholders and unquoted identifiers that mean
 * the same on both databases, and ends in `limit 1`. Its timings go to
 * knex's query events, like every other statement's.
 */
export function preparedFirst<Row>(sql: string): (db: Database, bindings: readonly Binding[]) => Promise<Row | undefined> {
  return async (db, bindings) => {
    if (db.isTransaction || db.client.config.client !== 'sqlite3') {
      const result = (await db.raw(sql, bindings)) as Row[] | { rows: Row[] };
      return (Array.isArray(result) ? result : result.rows)[0];
    }
    const conn = (await db.client.acquireConnection()) as SqliteConnection;
    // Timed from here, as knex times its own queries: once the connection is had.
    const query = { __knexQueryUid: `prepared-${++uid}`, sql, bindings, method: 'first' };
    db.emit('query', query);
    try {
      const statement = await statementFor(conn, sql);
      const row = await new Promise<Row | undefined>((resolve, reject) =>
        // Run to its end, never stepped once and left: a statement left mid-way keeps its read snapshot,
        // so what other processes commit stays unseen, and the write-ahead log cannot be checkpointed past it.
        statement.all(bindings, (err, rows) => {
          if (err) {
            forget(conn, sql);
            reject(err);
          } else resolve(rows[0] as Row | undefined);
        }),
      );
      db.emit('query-response', row, query);
      return row;
    } catch (e) {
      db.emit('query-error', e, query);
      throw e;
    } finally {
      await db.client.releaseConnection(conn);
    }
  };
}
