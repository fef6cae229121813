import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { AccountsError } from './errors.js';

export type PersonStatus = 'active' | 'disabled';

export interface Person {
  readonly id: number;
  readonly email: string;
  readonly displayName: string;
  readonly status: PersonStatus;
  readonly createdAt: string;
}

const toPerson = (r: Record<string, unknown>): Person => ({
  id: Number(r['id']),
  email: String(r['email']),
  displayName: String(r['display_name']),
  status: String(r['status']) as PersonStatus,
  createdAt: String(r['created_at']),
});

// Deliberately plain: one @, no spaces, a dot in the domain. The identity
// provider is the authority on addresses; this only catches typing slips.
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;

/** Emails identify people; compared without regard to case. */
export function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (!EMAIL.test(e) || e.length > 320) throw new AccountsError('ERR_INVALID_INPUT', `"${email}" is not an email address`);
  return e;
}

export class PeopleRepository {
  constructor(private readonly db: Database) {}

  async create(email: string, displayName: string): Promise<Person> {
    const row = { email: normalizeEmail(email), display_name: displayName, status: 'active', created_at: nowIso() };
    const [id] = await this.db('people').insert(row).returning('id');
    return toPerson({ ...row, id: typeof id === 'object' ? (id as { id: number }).id : id });
  }

  async byId(id: number): Promise<Person | undefined> {
    const row = await this.db('people').where({ id }).first();
    return row ? toPerson(row) : undefined;
  }

  async byEmail(email: string): Promise<Person | undefined> {
    const row = await this.db('people').where({ email: normalizeEmail(email) }).first();
    return row ? toPerson(row) : undefined;
  }

  async requireByEmail(email: string): Promise<Person> {
    const p = await this.byEmail(email);
    if (!p) throw new AccountsError('ERR_PERSON_UNKNOWN', `no person with the email "${email}": add them first`);
    return p;
  }

  async update(id: number, change: { displayName?: string; status?: PersonStatus }): Promise<void> {
    const row: Record<string, unknown> = {};
    if (change.displayName !== undefined) row['display_name'] = change.displayName;
    if (change.status !== undefined) row['status'] = change.status;
    if (Object.keys(row).length > 0) await this.db('people').where({ id }).update(row);
  }

  async list(filter: { ids?: readonly number[]; emailContains?: string; afterId?: number; limit?: number } = {}): Promise<Person[]> {
    const q = this.db('people').orderBy('id');
    if (filter.ids) q.whereIn('id', [...filter.ids]);
    if (filter.emailContains) q.where('email', 'like', `%${filter.emailContains.toLowerCase().replace(/[%_\\]/g, '\\$&')}%`);
    if (filter.afterId !== undefined) q.where('id', '>', filter.afterId);
    if (filter.limit !== undefined) q.limit(filter.limit);
    return (await q).map(toPerson);
  }
}
