import knex, { type Knex } from 'knex';
import { MIGRATIONS } from './migrations.js';

export type DatabaseConfig =
  | { readonly client: 'sqlite'; readonly filename: string; readonly busyTimeoutMs?: number; readonly connections?: number }
  | { readonly client: 'pg'; readonly connection: string; readonly pool?: { readonly min?: number; readonly max?: number } };

export type Database = Knex;
/** A query being built, for code that composes one before running it. */
export type Query = Knex.QueryBuilder;

/**
 * Opens the database. SQLite (the embedded default) gets WAL, foreign keys
 * and a busy timeout on each connection. PostgreSQL gets a small pool.
 */
export function openDatabase(config: DatabaseConfig): Database {
  if (config.client === 'sqlite') {
    const busy = config.busyTimeoutMs ?? 5000;
    return knex({
      client: 'sqlite3',
      connection: { filename: config.filename },
      useNullAsDefault: true,
      pool: {
        // One connection by default: measured here, more connections only
        // added SQLite lock waits (the issuance writer already groups writes).
        // With more, every write transaction starts with a write, so none has
        // to upgrade a read lock (SQLite refuses that at once instead of waiting).
        min: 1,
        max: config.connections ?? 1,
        afterCreate(conn: { exec: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) {
          // Per connection: SQLite forgets these on every new connection.
          // A checkpoint blocks the connection while it runs: with the default of 1000
          // pages it ran every few hundred serials under load and cost about 8% of the
          // throughput. A larger threshold, plus the passive checkpoint the vault runs
          // when idle (checkpointWhenIdle), keeps them off the request path.
          conn.exec(`PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = ${busy}; PRAGMA wal_autocheckpoint = 10000;`, (err) => done(err, conn));
        },
      },
    });
  }
  return knex({
    client: 'pg',
    connection: config.connection,
    pool: { min: config.pool?.min ?? 0, max: config.pool?.max ?? 10 },
  });
}

/**
 * SQLite only: moves the write-ahead log into the database every `everyMs`,
 * without blocking writers (PASSIVE). Returns a function that stops it.
 */
export function checkpointWhenIdle(db: Database, everyMs = 30_000): () => void {
  if (db.client.config.client !== 'sqlite3') return () => undefined;
  const timer = setInterval(() => {
    db.raw('PRAGMA wal_checkpoint(PASSIVE)').catch(() => undefined);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Migrations are listed in code with names without extension, so a
 * database migrated by the TypeScript sources and by the built JavaScript
 * agree on what has run (knex records names with their file extension).
 */
const migrationSource: Knex.MigrationSource<(typeof MIGRATIONS)[number]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m.name,
  getMigration: async (m) => m,
};

export async function migrate(db: Database): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/** Applies the next pending migration only: for upgrade tests that need data written at an older schema. */
export async function migrateOneStep(db: Database): Promise<void> {
  await db.migrate.up({ migrationSource });
}

export async function pendingMigrations(db: Database): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], { name?: string; file?: string }[]];
  return pending.map((p) => p.name ?? p.file ?? String(p));
}
