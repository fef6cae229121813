import { VaultError } from '../errors.js';
/** Driver errors, read the same way for sqlite3 and pg. */

export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; message?: string };
  return err.code === '23505' || (err.code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY KEY/.test(err.message ?? ''));
}

const TRANSIENT_SQLITE = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL', 'SQLITE_NOMEM']);
const TRANSIENT_PG = new Set(['40001', '40P01', '25006', '57P01', '57P02', '57P03', '55P03']);
const TRANSIENT_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Faults that may pass: lock contention and serialisation failures, but also
 * the database's disk being full, read-only or failing, and the server going
 * away. Retrying later can succeed, so a client hears 503, never 500. On
 * PostgreSQL, classes 08 (connection), 53 (insufficient resources) and 58
 * (system errors, I/O) are all such faults.
 */
export function isTransientDbError(e: unknown): boolean {
  const err = e as { code?: string; message?: string; name?: string };
  const code = err.code ?? '';
  return (
    TRANSIENT_SQLITE.has(code.replace(/^(SQLITE_[A-Z]+).*$/, '$1')) ||
    TRANSIENT_PG.has(code) ||
    /^(08|53|58)[0-9A-Z]{3}$/.test(code) ||
    TRANSIENT_NET.has(code) ||
    err.name === 'KnexTimeoutError' ||
    /Connection terminated|connection is closed/i.test(err.message ?? '') ||
    // SQLite rolls a transaction back by itself on a full disk, an I/O error or no memory;
    // knex's own ROLLBACK then fails with this and hides the cause.
    (code === 'SQLITE_ERROR' && /cannot rollback - no transaction is active/.test(err.message ?? ''))
  );
}

export const nowIso = (d = new Date()): string => d.toISOString();

/** Booleans come back as 0/1 from SQLite and true/false from PostgreSQL. */
export const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 't';

/** Counts come back as numbers from SQLite and strings from PostgreSQL. */
export const count = (v: unknown): number => Number(v ?? 0);

/**
 * A local change to a table an appliance holds as central's read-only copy
 * (the guard triggers of change-capture.ts refused it).
 */
export class ReplicaReadOnlyError extends VaultError {
  readonly code = 'ERR_REPLICATED_READ_ONLY' as const;
  constructor(
    readonly table: string,
    central: string | undefined,
  ) {
    super(`this appliance holds a read-only copy of ${table.replace(/_/g, ' ')} kept by central${central ? ` (${central})` : ''}: make the change there (serial-vault … --url, or central's admin API), and it reaches this appliance within seconds`);
    this.name = 'ReplicaReadOnlyError';
  }
}

/** The replicated table a driver error says the read-only guard refused a write to, if it is that. */
export function readOnlyTable(e: unknown): string | undefined {
  const m = /sync: replicated from central: ([a-z_]+)/.exec((e as { message?: string })?.message ?? '');
  return m?.[1];
}
