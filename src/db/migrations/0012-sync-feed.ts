import type { Knex } from 'knex';
import { installChangeCapture } from '../change-capture.js';
import { REPLICATED_TABLES } from '../replicated-tables.js';

/**
 * The sync feed: every change to a replicated table leaves its row image in
 * `sync_rows` (change-capture.ts), and `sync_guard` makes those tables
 * read-only on an appliance. Stations may belong to one appliance, and a
 * key may be held in another instance's HSM (`held_by`, an appliance's
 * name; null: this instance's own).
 */
export const syncFeed = {
  name: '0012_sync_feed',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('sync_guard', (t) => {
      t.string('name', 16).primary();
      t.string('role', 16).notNullable(); // 'authority' | 'appliance'
      t.integer('applying').notNullable().defaultTo(0);
    });
    await db('sync_guard').insert({ name: 'sync', role: 'authority', applying: 0 });
    await db.schema.createTable('sync_rows', (t) => {
      t.bigIncrements('seq');
      t.string('tbl', 64).notNullable();
      t.text('pk').notNullable();
      t.string('op', 8).notNullable(); // 'upsert' | 'delete'
      t.text('image').notNullable();
    });
    // Central: where each appliance last asked the feed from, and when (its lag, seen from central).
    await db.schema.createTable('sync_positions', (t) => {
      t.integer('appliance_id').primary();
      t.bigInteger('cursor').notNullable();
      t.bigInteger('head').notNullable();
      t.string('seen_at', 32).notNullable();
    });
    await db.schema.alterTable('stations', (t) => {
      t.string('appliance', 64);
    });
    await db.schema.alterTable('signing_keys', (t) => {
      t.string('held_by', 64);
    });
    await installChangeCapture(db);
  },
  async down(db: Knex): Promise<void> {
    const pg = db.client.config.client === 'pg';
    for (const { table } of REPLICATED_TABLES) {
      if (pg) await db.raw(`DROP TRIGGER IF EXISTS sync_capture_${table} ON ${table}`);
      else for (const s of ['guard_ins', 'guard_upd', 'guard_del', 'cap_ins', 'cap_upd', 'cap_del']) await db.raw(`DROP TRIGGER IF EXISTS sync_${s}_${table}`);
    }
    if (pg) await db.raw('DROP FUNCTION IF EXISTS sync_capture()');
    await db.schema.alterTable('signing_keys', (t) => {
      t.dropColumn('held_by');
    });
    await db.schema.alterTable('stations', (t) => {
      t.dropColumn('appliance');
    });
    await db.schema.dropTableIfExists('sync_positions');
    await db.schema.dropTableIfExists('sync_rows');
    await db.schema.dropTableIfExists('sync_guard');
  },
};
