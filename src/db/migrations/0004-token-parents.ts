import type { Knex } from 'knex';

/**
 * A token made with a token remembers its parent, so revoking the parent
 * stops the child, and the child never outlives it.
 */
export const tokenParents = {
  name: '0004_token_parents',
  async up(db: Knex): Promise<void> {
    await db.schema.alterTable('access_tokens', (t) => {
      t.integer('parent_id').references('access_tokens.id').onDelete('CASCADE');
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.alterTable('access_tokens', (t) => {
      t.dropColumn('parent_id');
    });
  },
};
