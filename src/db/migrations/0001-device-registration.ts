import type { Knex } from 'knex';

export const deviceRegistration = {
  name: '0001_device_registration',
  async up(db: Knex): Promise<void> {
    // Assertions the vault holds: trusted roots, brand accounts and account-keys, models.
    await db.schema.createTable('assertions', (t) => {
      t.increments('id');
      t.string('type', 64).notNullable();
      t.string('primary_key', 512).notNullable();
      t.integer('revision').notNullable().defaultTo(0);
      t.boolean('trusted').notNullable().defaultTo(false);
      t.text('encoded').notNullable();
      t.string('created_at', 32).notNullable();
      t.unique(['type', 'primary_key']);
    });
    await db.schema.createTable('brands', (t) => {
      t.increments('id');
      t.string('account_id', 64).notNullable().unique();
      t.string('display_name', 256).notNullable();
      t.string('created_at', 32).notNullable();
    });
    // Signing keys live in the HSM; here only their label and public identity.
    await db.schema.createTable('signing_keys', (t) => {
      t.increments('id');
      t.integer('brand_id').references('brands.id').onDelete('RESTRICT');
      t.string('label', 64).notNullable().unique();
      t.string('key_id', 64).notNullable().unique();
      t.string('purpose', 32).notNullable(); // 'root' | 'brand'
      t.string('created_at', 32).notNullable();
    });
    await db.schema.createTable('models', (t) => {
      t.increments('id');
      t.integer('brand_id').notNullable().references('brands.id').onDelete('RESTRICT');
      t.string('name', 128).notNullable();
      t.integer('assertion_id').notNullable().references('assertions.id');
      t.integer('signing_key_id').notNullable().references('signing_keys.id');
      t.boolean('enabled').notNullable().defaultTo(true);
      t.string('serial_policy', 16).notNullable().defaultTo('device'); // 'device' | 'template'
      t.string('serial_template', 128);
      t.boolean('allow_reprovision').notNullable().defaultTo(false);
      t.integer('next_serial_number').notNullable().defaultTo(1);
      t.string('created_at', 32).notNullable();
      t.unique(['brand_id', 'name']);
    });
    await db.schema.createTable('api_keys', (t) => {
      t.increments('id');
      t.integer('model_id').notNullable().references('models.id').onDelete('CASCADE');
      t.string('name', 128).notNullable();
      // The first characters, to find the row; the rest only as a hash.
      t.string('prefix', 16).notNullable().unique();
      t.string('hash', 128).notNullable();
      t.string('created_at', 32).notNullable();
      t.string('revoked_at', 32);
    });
    await db.schema.createTable('request_ids', (t) => {
      t.string('id', 64).primary();
      t.integer('api_key_id').notNullable().references('api_keys.id').onDelete('CASCADE');
      t.string('expires_at', 32).notNullable();
      t.string('used_at', 32);
      // SHA-256 of the serial-request that used it: the same request may come again after a 202.
      t.string('used_by', 64);
      t.index(['expires_at']);
    });
    await db.schema.createTable('serials', (t) => {
      t.increments('id');
      t.integer('model_id').notNullable().references('models.id').onDelete('RESTRICT');
      t.string('serial', 128).notNullable();
      t.string('device_key_id', 64).notNullable();
      t.integer('signing_key_id').notNullable().references('signing_keys.id');
      t.text('assertion').notNullable();
      t.string('issued_at', 32).notNullable();
      t.unique(['model_id', 'serial']);
      t.unique(['model_id', 'device_key_id']);
    });
    // Numbers handed out by a serial template, until their serial is stored (or given back).
    await db.schema.createTable('serial_reservations', (t) => {
      t.integer('model_id').notNullable().references('models.id').onDelete('CASCADE');
      t.integer('number').notNullable();
      t.string('state', 16).notNullable(); // 'reserved' | 'free'
      t.string('updated_at', 32).notNullable();
      t.primary(['model_id', 'number']);
    });
    await db.schema.createTable('issuance_log', (t) => {
      t.increments('id');
      t.string('brand_id', 64).notNullable();
      t.string('model', 128).notNullable();
      t.string('serial', 128).notNullable();
      t.string('device_key_id', 64).notNullable();
      t.string('signing_key_id', 64).notNullable();
      t.string('outcome', 16).notNullable(); // 'issued' | 'repeated' | 'reprovisioned'
      t.string('request_id', 64);
      t.string('client_address', 64);
      t.string('issued_at', 32).notNullable();
      t.index(['brand_id', 'model', 'serial']);
    });
  },
  async down(db: Knex): Promise<void> {
    for (const table of ['issuance_log', 'serial_reservations', 'serials', 'request_ids', 'api_keys', 'models', 'signing_keys', 'brands', 'assertions']) {
      await db.schema.dropTableIfExists(table);
    }
  },
};
