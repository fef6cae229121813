import type { Knex } from 'knex';

export const accountsStoresRoles = {
  name: '0003_accounts_stores_roles',
  async up(db: Knex): Promise<void> {
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
  async down(db: Knex): Promise<void> {
    for (const table of ['audit_log', 'sessions', 'access_tokens', 'snap_collaborators', 'role_grants', 'people', 'stores']) {
      await db.schema.dropTableIfExists(table);
    }
    if (db.client.config.client === 'pg') await db.raw('DROP FUNCTION IF EXISTS audit_log_append_only()');
  },
};
