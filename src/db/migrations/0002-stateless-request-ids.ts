import type { Knex } from 'knex';

export const statelessRequestIds = {
  name: '0002_stateless_request_ids',
  async up(db: Knex): Promise<void> {
    // Request ids are now signed tokens; only used ones are stored. A per-vault secret signs them.
    await db.schema.createTable('settings', (t) => {
      t.string('name', 64).primary();
      t.text('value').notNullable();
    });
    await db('request_ids').whereNull('used_at').delete();
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTableIfExists('settings');
  },
};
