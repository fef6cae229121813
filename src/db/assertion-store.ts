import { decodeAssertion, type Assertion } from '../assertions/index.js';
import type { Database } from './database.js';
import { bool, nowIso } from './errors.js';

/** Assertions kept by the vault (roots, brand chains, models), as their exact text. */
export class AssertionStore {
  constructor(private readonly db: Database) {}

  /** Stores (or replaces with a newer revision) an assertion; returns its row id. */
  async put(a: Assertion, options: { trusted?: boolean } = {}, trx: Database = this.db): Promise<number> {
    const primaryKey = a.primaryKey.join('/');
    const existing = await trx('assertions').where({ type: a.type, primary_key: primaryKey }).first();
    if (existing) {
      if (a.revision > existing.revision || existing.encoded === a.encode().toString('utf8')) {
        await trx('assertions').where({ id: existing.id }).update({ revision: a.revision, encoded: a.encode().toString('utf8'), trusted: options.trusted ?? bool(existing.trusted) });
      }
      return existing.id as number;
    }
    const [row] = await trx('assertions')
      .insert({ type: a.type, primary_key: primaryKey, revision: a.revision, trusted: options.trusted ?? false, encoded: a.encode().toString('utf8'), created_at: nowIso() })
      .returning('id');
    return typeof row === 'object' ? (row as { id: number }).id : (row as number);
  }

  async get(type: string, primaryKey: readonly string[]): Promise<Assertion | undefined> {
    const row = await this.db('assertions').where({ type, primary_key: primaryKey.join('/') }).first();
    return row ? decodeAssertion(Buffer.from(row.encoded as string, 'utf8')) : undefined;
  }

  async byId(id: number): Promise<Assertion | undefined> {
    const row = await this.db('assertions').where({ id }).first();
    return row ? decodeAssertion(Buffer.from(row.encoded as string, 'utf8')) : undefined;
  }

  async trusted(): Promise<Assertion[]> {
    const rows = await this.db('assertions').where({ trusted: true }).orderBy('id');
    return rows.map((r) => decodeAssertion(Buffer.from(r.encoded as string, 'utf8')));
  }

  /** Every untrusted account and account-key: the chains that verify brand signatures. */
  async chains(): Promise<Assertion[]> {
    const rows = await this.db('assertions').whereIn('type', ['account', 'account-key']).andWhere({ trusted: false }).orderBy('id');
    return rows.map((r) => decodeAssertion(Buffer.from(r.encoded as string, 'utf8')));
  }
}
