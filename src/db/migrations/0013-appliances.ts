import type { Knex } from 'knex';

/**
 * Appliances that central serves: their identity, enrolment tokens, sync
 * nonces and tokens. Nonces and tokens live here, not in a process, so any
 * central replica can check what another handed out. Secrets (enrolment
 * and sync tokens) are kept only as SHA-256 hashes.
 */
export const appliances = {
  name: '0013_appliances',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('appliances', (t) => {
      t.increments('id');
      t.string('name', 64).notNullable().unique();
      // The store whose subtree it serves, and that store's brand.
      t.string('store_id', 64).notNullable();
      t.integer('brand_id').notNullable().references('brands.id');
      // active | disabled
      t.string('state', 16).notNullable().defaultTo('active');
      // Set at enrolment: the identity key's snapd key id and its snapd-encoded public key.
      t.string('identity_key_id', 128);
      t.text('identity_public_key');
      t.string('created_at', 32).notNullable();
      t.string('enrolled_at', 32);
      t.string('disabled_at', 32);
    });
    await db.schema.createTable('appliance_enrolment_tokens', (t) => {
      t.string('token_hash', 64).primary();
      t.integer('appliance_id').notNullable().references('appliances.id').onDelete('CASCADE');
      t.string('created_at', 32).notNullable();
      t.string('expires_at', 32).notNullable();
      t.string('used_at', 32);
      t.index(['appliance_id']);
    });
    await db.schema.createTable('sync_nonces', (t) => {
      t.string('nonce', 64).primary();
      t.string('expires_at', 32).notNullable().index();
      t.string('used_at', 32);
    });
    await db.schema.createTable('sync_tokens', (t) => {
      t.string('token_hash', 64).primary();
      t.integer('appliance_id').notNullable().references('appliances.id').onDelete('CASCADE');
      t.string('created_at', 32).notNullable();
      t.string('expires_at', 32).notNullable().index();
      t.index(['appliance_id']);
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTableIfExists('sync_tokens');
    await db.schema.dropTableIfExists('sync_nonces');
    await db.schema.dropTableIfExists('appliance_enrolment_tokens');
    await db.schema.dropTableIfExists('appliances');
  },
};
