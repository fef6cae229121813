import type { Knex } from 'knex';

/**
 * What appliances push, the serial number ranges central leases them, and
 * conflicts between them. The same tables exist on every instance; which
 * ones fill depends on the role.
 *
 * Central:
 * - `sync_push_acks`: per (appliance, kind) the highest sequence acknowledged.
 *   A push is one transaction that moves it, so a replayed batch finds its
 *   rows at or below it and inserts nothing.
 * - `issuance_log.origin_seq`: a pushed row keeps its appliance's row id there,
 *   with `origin` = the appliance's name; unique (origin, origin_seq) makes the
 *   insert `ON CONFLICT DO NOTHING` even when two replicas race. Rows an
 *   instance writes itself keep origin = its instance id and origin_seq null
 *   (nulls are distinct in a unique index on both databases): their own id
 *   is their sequence when they are pushed.
 * - `sync_checkpoints`, `sync_station_counters`: an appliance's audit
 *   checkpoints and station counter windows, kept per appliance for reports.
 * - `sync_leases`: every range granted: numbers first..end-1 of a model
 *   belong to that appliance.
 * - `sync_conflicts`: a (brand, model, serial) given to two device keys by two
 *   origins; reported, never merged.
 *
 * Appliance (local, never replicated):
 * - `sync_lease_holds`: the ranges it holds per model and the next number in each.
 * - `sync_push_cursors`: per kind the sequence central acknowledged, and
 *   the last sequence assigned (counters have no row id of their own).
 * - `sync_counter_marks`: per station counter window the count last queued for
 *   a push and its sequence.
 *
 * Appliances are referred to by id without a foreign key: they are disabled,
 * never deleted, and what they pushed stays central's record.
 */
export const syncPushLeases = {
  name: '0014_sync_push_leases',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('sync_push_acks', (t) => {
      t.integer('appliance_id').notNullable();
      t.string('kind', 16).notNullable(); // 'issuance' | 'checkpoint' | 'counters'
      t.bigInteger('acked').notNullable().defaultTo(0);
      t.string('updated_at', 32).notNullable();
      t.primary(['appliance_id', 'kind']);
    });
    await db.schema.alterTable('issuance_log', (t) => {
      t.bigInteger('origin_seq');
      t.unique(['origin', 'origin_seq'], { indexName: 'issuance_log_origin_seq_unique' });
    });
    await db.schema.createTable('sync_checkpoints', (t) => {
      t.integer('appliance_id').notNullable();
      t.integer('seq').notNullable();
      t.string('hash', 64).notNullable();
      t.string('at', 32).notNullable();
      t.string('key_id', 64).notNullable();
      t.text('signature').notNullable();
      t.string('received_at', 32).notNullable();
      t.primary(['appliance_id', 'seq']);
    });
    await db.schema.createTable('sync_station_counters', (t) => {
      t.integer('appliance_id').notNullable();
      t.string('station', 64).notNullable();
      t.string('window', 24).notNullable();
      t.integer('count').notNullable();
      // The push sequence of the value: only a later one replaces it.
      t.bigInteger('seq').notNullable();
      t.string('updated_at', 32).notNullable();
      t.primary(['appliance_id', 'station', 'window']);
    });
    await db.schema.createTable('sync_leases', (t) => {
      t.increments('id');
      t.integer('appliance_id').notNullable();
      t.integer('model_id').notNullable().references('models.id').onDelete('RESTRICT');
      t.integer('first_number').notNullable();
      t.integer('end_number').notNullable();
      t.string('granted_at', 32).notNullable();
      t.index(['appliance_id', 'model_id']);
      t.unique(['model_id', 'first_number']);
    });
    await db.schema.createTable('sync_conflicts', (t) => {
      t.increments('id');
      t.string('brand_id', 64).notNullable();
      t.string('model', 128).notNullable();
      t.string('serial', 128).notNullable();
      // The two sides in a fixed order (a < b), so a conflict seen twice is one row.
      t.string('origin_a', 64).notNullable();
      t.string('device_key_a', 64).notNullable();
      t.string('origin_b', 64).notNullable();
      t.string('device_key_b', 64).notNullable();
      t.string('detected_at', 32).notNullable();
      t.unique(['brand_id', 'model', 'serial', 'origin_a', 'device_key_a', 'origin_b', 'device_key_b'], { indexName: 'sync_conflicts_sides_unique' });
    });
    await db.schema.createTable('sync_lease_holds', (t) => {
      t.integer('model_id').notNullable();
      t.string('brand_id', 64).notNullable();
      t.string('model', 128).notNullable();
      t.integer('first_number').notNullable();
      t.integer('next_number').notNullable();
      t.integer('end_number').notNullable();
      t.string('granted_at', 32).notNullable();
      t.primary(['model_id', 'first_number']);
    });
    await db.schema.createTable('sync_push_cursors', (t) => {
      t.string('kind', 16).primary();
      t.bigInteger('acked').notNullable().defaultTo(0);
      t.bigInteger('assigned').notNullable().defaultTo(0);
    });
    await db.schema.createTable('sync_counter_marks', (t) => {
      t.integer('station_id').notNullable();
      t.string('window', 24).notNullable();
      t.integer('count').notNullable();
      t.bigInteger('seq').notNullable();
      t.primary(['station_id', 'window']);
      t.index(['seq']);
    });
  },
  async down(db: Knex): Promise<void> {
    for (const table of ['sync_counter_marks', 'sync_push_cursors', 'sync_lease_holds', 'sync_conflicts', 'sync_leases', 'sync_station_counters', 'sync_checkpoints', 'sync_push_acks']) {
      await db.schema.dropTableIfExists(table);
    }
    await db.schema.alterTable('issuance_log', (t) => {
      t.dropUnique(['origin', 'origin_seq'], 'issuance_log_origin_seq_unique');
      t.dropColumn('origin_seq');
    });
  },
};
