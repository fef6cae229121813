import knex from 'knex';

let counter = 0;

/**
 * A fresh database on the throwaway PostgreSQL cluster the test command
 * starts (scripts/with-postgres.sh). Without one the PostgreSQL tests fail:
 * they never skip.
 */
export async function freshPostgresDatabase(): Promise<string> {
  const { PGHOST, PGPORT, PGUSER, PGPASSWORD } = process.env;
  if (!PGHOST) throw new Error('PostgreSQL tests need a server: run them through scripts/with-postgres.sh (npm test does)');
  const name = `sv_test_${process.pid}_${++counter}`;
  const admin = knex({ client: 'pg', connection: { database: 'postgres' } });
  try {
    await admin.raw(`create database ${name}`);
  } finally {
    await admin.destroy();
  }
  const auth = PGUSER ? `${encodeURIComponent(PGUSER)}${PGPASSWORD ? `:${encodeURIComponent(PGPASSWORD)}` : ''}@` : '';
  return `postgres://${auth}${PGHOST}:${PGPORT ?? 5432}/${name}`;
}
