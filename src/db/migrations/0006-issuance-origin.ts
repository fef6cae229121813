import type { Knex } from 'knex';

/**
 * Each issuance log row names the vault instance that wrote it (`origin`),
 * so that a push of the log to a central instance can be idempotent by
 * (origin, row id). Rows written before have none.
 */
export const issuanceOrigin = {
  name: '0006_issuance_origin',
  async up(db: Knex): Promise<void> {
    await db.schema.alterTable('issuance_log', (t) => {
      t.string('origin', 64);
      t.index(['origin', 'id']);
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.alterTable('issuance_log', (t) => {
      t.dropIndex(['origin', 'id']);
      t.dropColumn('origin');
    });
  },
};
