import type { Knex } from 'knex';

/**
 * Factory lines. An API key belongs to a station: a named line of one
 * brand with the models it may provision, a validity window, quotas and an
 * optional serial pattern or allow-list. Every key made so far gets a
 * station of its own model, named after it, with no limits, so that
 * registrations go on exactly as before.
 *
 * Beside stations: exact quota counters, allow-listed serials (staged
 * while an import streams in), hardware identities and the serial each is
 * bound to, remodel rules, a model's extra serial keys (several tokens),
 * the hourly registration figures the reports read, and what the issuance
 * log needs to link a remodel's old and new serial.
 */
export const factoryLines = {
  name: '0011_factory_lines',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('stations', (t) => {
      t.increments('id');
      t.string('brand_id', 64).notNullable();
      t.string('name', 64).notNullable();
      // 'api-key' | 'hardware-identity': how its devices prove they may have a serial.
      t.string('provisioning', 24).notNullable().defaultTo('api-key');
      t.string('valid_from', 32);
      t.string('valid_until', 32);
      t.integer('per_hour');
      t.integer('per_day');
      t.integer('total');
      t.string('pattern', 256);
      t.boolean('allowlist').notNullable().defaultTo(false);
      t.string('disabled_at', 32);
      t.string('created_at', 32).notNullable();
      t.unique(['brand_id', 'name']);
    });
    await db.schema.createTable('station_models', (t) => {
      t.integer('station_id').notNullable().references('stations.id').onDelete('CASCADE');
      t.integer('model_id').notNullable().references('models.id').onDelete('CASCADE');
      t.primary(['station_id', 'model_id']);
    });
    // One row per station and window: 'total', 'h:YYYY-MM-DDTHH', 'd:YYYY-MM-DD' (UTC).
    await db.schema.createTable('station_counters', (t) => {
      t.integer('station_id').notNullable().references('stations.id').onDelete('CASCADE');
      t.string('window', 24).notNullable();
      t.integer('count').notNullable().defaultTo(0);
      t.primary(['station_id', 'window']);
    });
    await db.schema.createTable('allowlist_serials', (t) => {
      t.integer('station_id').notNullable().references('stations.id').onDelete('CASCADE');
      t.string('serial', 128).notNullable();
      t.primary(['station_id', 'serial']);
    });
    // An import's rows while its file streams in; moved to allowlist_serials in one statement at the end.
    await db.schema.createTable('allowlist_staging', (t) => {
      t.string('import_id', 32).notNullable();
      t.string('serial', 128).notNullable();
      t.index(['import_id']);
    });
    await db.schema.createTable('hardware_identities', (t) => {
      t.increments('id');
      t.string('brand_id', 64).notNullable();
      t.string('issuer_id', 64).notNullable();
      t.string('key_sha3_384', 64).notNullable().unique();
      t.string('hardware_id', 256).notNullable();
      t.string('hardware_name', 128).notNullable();
      t.string('manufacturer', 256).notNullable();
      t.text('assertion').notNullable();
      t.string('imported_at', 32).notNullable();
      // The device it onboarded: set in the transaction that stores that device's serial.
      t.string('device_key_id', 64);
      t.integer('model_id');
      t.string('serial', 128);
      t.string('bound_at', 32);
      t.index(['brand_id']);
    });
    await db.schema.createTable('remodel_rules', (t) => {
      t.increments('id');
      t.integer('from_model_id').notNullable().references('models.id').onDelete('CASCADE');
      t.integer('to_model_id').notNullable().references('models.id').onDelete('CASCADE');
      // The sub-store the target model must name (its `store` header), when set.
      t.string('store', 64);
      t.string('created_at', 32).notNullable();
      t.unique(['from_model_id', 'to_model_id']);
    });
    // Keys beside the model's own that sign its serials too (each in its own token or slot).
    await db.schema.createTable('model_serial_keys', (t) => {
      t.integer('model_id').notNullable().references('models.id').onDelete('CASCADE');
      t.integer('signing_key_id').notNullable().references('signing_keys.id').onDelete('CASCADE');
      t.primary(['model_id', 'signing_key_id']);
    });
    // Registrations per hour, station, model and outcome ('issued', 'queued', 'refused:ERR_…'): what reports read.
    await db.schema.createTable('registration_stats', (t) => {
      t.string('hour', 16).notNullable();
      t.string('station', 64).notNullable();
      t.string('brand_id', 64).notNullable();
      t.string('model', 128).notNullable();
      t.string('outcome', 64).notNullable();
      t.integer('count').notNullable();
      t.primary(['hour', 'station', 'brand_id', 'model', 'outcome']);
    });
    await db.schema.alterTable('models', (t) => {
      t.string('provisioning', 24).notNullable().defaultTo('api-key');
    });
    await db.schema.alterTable('api_keys', (t) => {
      t.integer('station_id').references('stations.id').onDelete('CASCADE');
    });
    await db.schema.alterTable('issuance_log', (t) => {
      t.string('station', 64);
      // A remodel: the serial the device had, as brand/model/serial.
      t.string('original', 400);
      t.string('hardware_id_key', 64);
      t.index(['station', 'issued_at']);
    });
    // A device onboarded by hardware identity asks for its request-id without an API key.
    await db.schema.alterTable('request_ids', (t) => {
      t.integer('api_key_id').nullable().alter();
    });
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const models = (await db('api_keys as k').join('models as m', 'm.id', 'k.model_id').join('brands as b', 'b.id', 'm.brand_id').distinct('m.id', 'm.name', 'b.account_id')) as Array<{ id: number; name: string; account_id: string }>;
    for (const m of models) {
      const taken = new Set(((await db('stations').where({ brand_id: m.account_id }).select('name')) as Array<{ name: string }>).map((s) => s.name));
      let name = m.name.slice(0, 64);
      for (let n = 2; taken.has(name); n++) name = `${m.name.slice(0, 58)}-${n}`;
      const [row] = await db('stations').insert({ brand_id: m.account_id, name, created_at: now }).returning('id');
      const stationId = typeof row === 'object' ? (row as { id: number }).id : (row as number);
      await db('station_models').insert({ station_id: stationId, model_id: m.id });
      await db('api_keys').where({ model_id: m.id }).update({ station_id: stationId });
    }
  },
  async down(db: Knex): Promise<void> {
    await db.schema.alterTable('issuance_log', (t) => {
      t.dropIndex(['station', 'issued_at']);
      t.dropColumn('station');
      t.dropColumn('original');
      t.dropColumn('hardware_id_key');
    });
    await db.schema.alterTable('api_keys', (t) => {
      t.dropForeign(['station_id']);
      t.dropColumn('station_id');
    });
    await db.schema.alterTable('models', (t) => {
      t.dropColumn('provisioning');
    });
    for (const table of ['registration_stats', 'model_serial_keys', 'remodel_rules', 'hardware_identities', 'allowlist_staging', 'allowlist_serials', 'station_counters', 'station_models', 'stations']) {
      await db.schema.dropTableIfExists(table);
    }
  },
};
