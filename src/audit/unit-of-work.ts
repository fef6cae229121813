import type { Database } from '../db/database.js';
import { ReplicaReadOnlyError, readOnlyTable } from '../db/errors.js';
import { AuditLog, type AuditRecord } from './audit-log.js';

/** Who makes a change, as the audit log records it. */
export type Actor = Pick<AuditRecord, 'actor' | 'actorKind' | 'via' | 'clientAddress'>;

/** The appliance's command line: whoever can read the data directory holds the HSM PIN already. */
export const OPERATOR_ACTOR: Actor = { actor: 'operator', actorKind: 'operator', via: 'cli', clientAddress: null };

/** What a change says of itself; the unit of work adds who made it. */
export type Change = Omit<AuditRecord, keyof Actor>;

/**
 * The event the database handle emits once a unit of work has committed:
 * readers that cache (the store's offer rows) drop what they hold at once.
 * Another process's changes are not announced: caches that must see them
 * re-read on a short timer (the offer index follows the outbox, the brand's
 * keys and chains are re-read within seconds).
 */
export const COMMITTED = 'vault:committed';

/**
 * The one write path: a change's rows, its audit record in the hash chain
 * and its outbox row commit together or not at all. `work` must make every
 * query through the transaction it is given.
 */
export class UnitOfWork {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  run<T>(actor: Actor, work: (trx: Database, record: (change: Change) => Promise<void>) => Promise<T>): Promise<T> {
    return this.transaction((trx) => {
      const log = new AuditLog(trx, this.clock);
      return work(trx, (change) => log.append({ ...actor, ...change }));
    });
  }

  /**
   * The transaction itself, for callers that append their own audit records
   * (the accounts use cases, whose actor varies within one change).
   */
  transaction<T>(work: (trx: Database) => Promise<T>): Promise<T> {
    return this.db
      .transaction(async (trx) => {
        // A write first: SQLite then takes its write lock at once and waits its busy timeout for
        // another process's writer, instead of failing with SQLITE_BUSY when a read must upgrade
        // mid-transaction; on PostgreSQL every unit of work takes the audit head first, one lock order.
        await trx('audit_head').where({ name: 'audit' }).update({ seq: trx.ref('seq') });
        return work(trx);
      })
      .then(
        (result) => {
          this.db.emit(COMMITTED);
          return result;
        },
        async (e: unknown) => {
          // On an appliance: the change named state central owns (change-capture.ts refused it).
          const table = readOnlyTable(e);
          if (table === undefined) throw e;
          const central = (await this.db('settings').where({ name: 'sync-upstream-url' }).first('value').catch(() => undefined)) as { value?: string } | undefined;
          throw new ReplicaReadOnlyError(table, central?.value);
        },
      );
  }
}
