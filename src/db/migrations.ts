import type { Knex } from 'knex';
import { tokenParents } from './migrations/0004-token-parents.js';
import { auditChainOutbox } from './migrations/0005-audit-chain-outbox.js';
import { issuanceOrigin } from './migrations/0006-issuance-origin.js';

/**
 * The schema, one entry per change, never edited once released. Runs
 * unchanged on SQLite and PostgreSQL: portable types only, timestamps as
 * ISO 8601 text in UTC (both drivers return them as the same strings).
 */
export const MIGRATIONS: ReadonlyArray<{ name: string; up: (db: Knex) => Promise<void>; down: (db: Knex) => Promise<void> }> = [
  {
    name: '0001_device_registration',
    async up(db) {
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
    async down(db) {
      for (const table of ['issuance_log', 'serial_reservations', 'serials', 'request_ids', 'api_keys', 'models', 'signing_keys', 'brands', 'assertions']) {
        await db.schema.dropTableIfExists(table);
      }
    },
  },
  {
    name: '0002_stateless_request_ids',
    async up(db) {
      // Request ids are now signed tokens; only used ones are stored. A per-vault secret signs them.
      await db.schema.createTable('settings', (t) => {
        t.string('name', 64).primary();
        t.text('value').notNullable();
      });
      await db('request_ids').whereNull('used_at').delete();
    },
    async down(db) {
      await db.schema.dropTableIfExists('settings');
    },
  },
  {
    name: '0003_accounts_stores_roles',
    async up(db) {
      // The store tree: one brand store per brand, product and ecosystem sub-stores below it.
      await db.schema.createTable('stores', (t) => {
        t.string('id', 64).primary();
        t.string('name', 128).notNullable();
        t.integer('brand_id').notNullable().references('brands.id').onDelete('RESTRICT');
        t.string('parent_id', 64).references('stores.id').onDelete('RESTRICT');
        t.string('kind', 16).notNullable(); // 'brand' | 'product' | 'ecosystem'
        t.string('created_at', 32).notNullable();
        t.index(['parent_id']);
      });
      const brands = (await db('brands').select('id', 'account_id', 'display_name', 'created_at')) as Array<{ id: number; account_id: string; display_name: string; created_at: string }>;
      for (const b of brands) {
        await db('stores').insert({ id: b.account_id, name: b.display_name, brand_id: b.id, parent_id: null, kind: 'brand', created_at: b.created_at });
      }
      await db.schema.createTable('people', (t) => {
        t.increments('id');
        t.string('email', 320).notNullable().unique(); // stored lower-cased
        t.string('display_name', 256).notNullable();
        t.string('status', 16).notNullable(); // 'active' | 'disabled'
        t.string('created_at', 32).notNullable();
      });
      await db.schema.createTable('role_grants', (t) => {
        t.increments('id');
        t.integer('person_id').notNullable().references('people.id').onDelete('CASCADE');
        t.string('store_id', 64).notNullable().references('stores.id').onDelete('CASCADE');
        t.string('role', 32).notNullable();
        t.string('created_at', 32).notNullable();
        t.unique(['person_id', 'store_id', 'role']);
        t.index(['store_id']);
      });
      // A collaborator on one snap of a store (the catalog uses it).
      await db.schema.createTable('snap_collaborators', (t) => {
        t.increments('id');
        t.integer('person_id').notNullable().references('people.id').onDelete('CASCADE');
        t.string('store_id', 64).notNullable().references('stores.id').onDelete('CASCADE');
        t.string('snap_name', 64).notNullable();
        t.string('created_at', 32).notNullable();
        t.unique(['person_id', 'store_id', 'snap_name']);
      });
      await db.schema.createTable('access_tokens', (t) => {
        t.increments('id');
        t.integer('person_id').notNullable().references('people.id').onDelete('CASCADE');
        t.string('name', 128).notNullable();
        t.string('prefix', 24).notNullable().unique();
        t.string('hash', 128).notNullable();
        t.text('stores'); // JSON list of store ids, null for every store of the person
        t.text('roles'); // JSON list of roles, null for every role of the person
        t.string('created_at', 32).notNullable();
        t.string('expires_at', 32).notNullable();
        t.string('last_used_at', 32);
        t.string('revoked_at', 32);
        t.index(['person_id']);
      });
      await db.schema.createTable('sessions', (t) => {
        t.string('id_hash', 64).primary();
        t.integer('person_id').notNullable().references('people.id').onDelete('CASCADE');
        t.string('created_at', 32).notNullable();
        t.string('expires_at', 32).notNullable();
        t.string('revoked_at', 32);
        t.index(['person_id']);
      });
      // Append-only: the database itself refuses updates and deletes.
      await db.schema.createTable('audit_log', (t) => {
        t.increments('id');
        t.string('at', 32).notNullable();
        t.string('actor', 320).notNullable();
        t.string('actor_kind', 16).notNullable(); // 'person' | 'operator'
        t.string('via', 16).notNullable(); // 'session' | 'token' | 'cli'
        t.string('action', 64).notNullable();
        t.string('target_type', 32).notNullable();
        t.string('target_id', 128).notNullable();
        t.string('store_id', 64);
        t.string('client_address', 64);
        t.text('before');
        t.text('after');
        t.index(['store_id', 'id']);
      });
      if (db.client.config.client === 'pg') {
        await db.raw(`CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql`);
        await db.raw('CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()');
      } else {
        await db.raw(`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`);
        await db.raw(`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`);
      }
    },
    async down(db) {
      for (const table of ['audit_log', 'sessions', 'access_tokens', 'snap_collaborators', 'role_grants', 'people', 'stores']) {
        await db.schema.dropTableIfExists(table);
      }
      if (db.client.config.client === 'pg') await db.raw('DROP FUNCTION IF EXISTS audit_log_append_only()');
    },
  },
  tokenParents,
  auditChainOutbox,
  issuanceOrigin,
];
