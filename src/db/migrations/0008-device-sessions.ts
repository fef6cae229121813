import type { Knex } from 'knex';

/**
 * What the store listener keeps for devices: the nonces it handed out (each
 * used once, short lived) and device sessions, stored as hashes of their
 * tokens with the device and store they were made for.
 */
export const deviceSessions = {
  name: '0008_device_sessions',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('device_nonces', (t) => {
      t.string('nonce', 64).primary();
      t.string('expires_at', 32).notNullable().index();
      t.string('used_at', 32);
    });
    await db.schema.createTable('device_sessions', (t) => {
      t.string('token_hash', 64).primary();
      t.string('brand_id', 64).notNullable();
      t.string('model', 128).notNullable();
      t.string('serial', 128).notNullable();
      t.string('device_key_id', 64).notNullable();
      // The store the model names; null when it names none this vault serves.
      t.string('store_id', 64);
      t.string('created_at', 32).notNullable();
      t.string('expires_at', 32).notNullable().index();
      t.index(['brand_id', 'model', 'serial']);
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTableIfExists('device_sessions');
    await db.schema.dropTableIfExists('device_nonces');
  },
};
