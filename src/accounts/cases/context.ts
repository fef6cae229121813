import type { Database } from '../../db/database.js';
import { UnitOfWork } from '../../audit/unit-of-work.js';
import { AuditLog } from '../../audit/audit-log.js';
import { BrandRepository } from '../brands.js';
import { GrantRepository } from '../grants.js';
import { PeopleRepository } from '../people.js';
import { SessionRepository } from '../sessions.js';
import { StoreRepository, type StoreTree } from '../stores.js';
import { AccessTokenRepository } from '../tokens.js';

export interface Page<T> {
  readonly items: T[];
  /** Pass as `after` for the next page; null on the last one. */
  readonly next: string | null;
}

export interface AccountsOptions {
  readonly clock?: () => Date;
  /** How long a browser session lasts after sign-in. */
  readonly sessionTtlMs?: number;
  /** The longest lifetime a person may give an access token. */
  readonly maxTokenDays?: number;
}

export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;

export function pageOf<T>(rows: T[], limit: number, cursor: (t: T) => string): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, next: more && items.length > 0 ? cursor(items[items.length - 1] as T) : null };
}

export const clampLimit = (limit?: number) => Math.min(Math.max(limit ?? DEFAULT_PAGE, 1), MAX_PAGE);

/** The repositories, all on one connection or transaction. */
export type Repos = ReturnType<AccountsContext['repos']>;

/**
 * What every account use case works with: the database, the clock and the
 * limits, the repositories, and `change`, the one transaction a use case's
 * writes and its audit record share.
 */
export class AccountsContext {
  readonly clock: () => Date;
  readonly sessionTtlMs: number;
  readonly maxTokenDays: number;

  constructor(
    readonly db: Database,
    options: AccountsOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.sessionTtlMs = options.sessionTtlMs ?? 8 * 3600_000;
    this.maxTokenDays = options.maxTokenDays ?? 365;
  }

  repos(db: Database) {
    return {
      brands: new BrandRepository(db),
      stores: new StoreRepository(db),
      people: new PeopleRepository(db),
      grants: new GrantRepository(db),
      tokens: new AccessTokenRepository(db, this.clock),
      sessions: new SessionRepository(db, this.clock),
      audit: new AuditLog(db, this.clock),
    };
  }

  /** Runs `work` as a unit of work (its audit records appended by the case); every query in it must use the repositories it is given. */
  change<T>(work: (r: Repos, trx: Database) => Promise<T>): Promise<T> {
    return new UnitOfWork(this.db, this.clock).transaction((trx) => work(this.repos(trx), trx));
  }

  tree(): Promise<StoreTree> {
    return this.repos(this.db).stores.tree();
  }
}
