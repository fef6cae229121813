/** Driver errors, read the same way for sqlite3 and pg. */

export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; message?: string };
  return err.code === '23505' || (err.code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY KEY/.test(err.message ?? ''));
}

/** Lock contention and serialisation failures: the operation may succeed if tried again. */
export function isTransientDbError(e: unknown): boolean {
  const err = e as { code?: string; message?: string; name?: string };
  return (
    err.code === 'SQLITE_BUSY' ||
    err.code === 'SQLITE_LOCKED' ||
    err.code === '40001' ||
    err.code === '40P01' ||
    err.code === '57P01' ||
    err.code === 'ECONNREFUSED' ||
    err.code === 'ECONNRESET' ||
    err.name === 'KnexTimeoutError'
  );
}

export const nowIso = (d = new Date()): string => d.toISOString();

/** Booleans come back as 0/1 from SQLite and true/false from PostgreSQL. */
export const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 't';

/** Counts come back as numbers from SQLite and strings from PostgreSQL. */
export const count = (v: unknown): number => Number(v ?? 0);
