import type { Knex } from 'knex';

/**
 * The catalog: snap names per store, their revisions (each with its blob
 * in the content-addressed store), the channel map as a history plus its
 * current heads, and each store's curation (include, exclude, pin) and
 * review policy.
 */
export const catalog = {
  name: '0007_catalog',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('snaps', (t) => {
      t.increments('id');
      t.string('snap_id', 32).notNullable().unique();
      t.string('name', 40).notNullable().unique();
      t.string('store_id', 64).notNullable().references('stores.id').onDelete('RESTRICT');
      t.string('type', 16).notNullable();
      t.boolean('private').notNullable().defaultTo(false);
      t.string('publisher', 320).notNullable(); // email, or 'operator'
      t.string('publisher_id', 64).notNullable(); // the account in the assertions
      t.text('collaborators').notNullable(); // JSON list of emails
      t.string('created_at', 32).notNullable();
      t.index(['store_id']);
    });
    await db.schema.createTable('snap_uploads', (t) => {
      t.string('id', 64).primary();
      t.string('sha3_384', 64).notNullable(); // unpadded base64url, as in snap-revision
      t.bigInteger('size').notNullable();
      t.string('created_by', 320).notNullable();
      t.string('created_at', 32).notNullable();
    });
    await db.schema.createTable('snap_revisions', (t) => {
      t.increments('id');
      t.integer('snap').notNullable().references('snaps.id').onDelete('RESTRICT');
      t.integer('revision').notNullable();
      t.string('sha3_384', 64).notNullable();
      t.bigInteger('size').notNullable();
      t.string('version', 32).notNullable();
      t.text('architectures').notNullable(); // JSON list
      t.string('grade', 16).notNullable();
      t.string('confinement', 16).notNullable();
      t.string('base', 64);
      t.string('epoch', 64).notNullable();
      t.string('provenance', 64).notNullable();
      t.text('snap_yaml').notNullable();
      t.string('status', 16).notNullable(); // 'needs-review' | 'approved' | 'rejected'
      t.string('uploaded_by', 320).notNullable();
      t.string('upload_id', 64);
      t.string('reviewed_by', 320);
      t.text('review_reason');
      t.string('created_at', 32).notNullable();
      t.string('reviewed_at', 32);
      t.unique(['snap', 'revision']);
      t.unique(['snap', 'sha3_384']);
      t.index(['upload_id']);
    });
    await db.schema.createTable('channel_releases', (t) => {
      t.increments('id');
      t.integer('snap').notNullable().references('snaps.id').onDelete('RESTRICT');
      t.string('channel', 128).notNullable(); // track/risk[/branch], full form
      t.string('architecture', 32).notNullable();
      t.integer('revision'); // null: the channel was closed
      t.string('released_by', 320).notNullable();
      t.string('released_at', 32).notNullable();
      t.index(['snap', 'channel']);
    });
    await db.schema.createTable('channel_heads', (t) => {
      t.integer('snap').notNullable().references('snaps.id').onDelete('RESTRICT');
      t.string('channel', 128).notNullable();
      t.string('architecture', 32).notNullable();
      t.integer('revision').notNullable();
      t.primary(['snap', 'channel', 'architecture']);
    });
    await db.schema.createTable('store_curation', (t) => {
      t.string('store_id', 64).notNullable().references('stores.id').onDelete('RESTRICT');
      t.integer('snap').notNullable().references('snaps.id').onDelete('RESTRICT');
      t.string('mode', 16).notNullable(); // 'include' | 'exclude'
      t.string('created_by', 320).notNullable();
      t.string('created_at', 32).notNullable();
      t.primary(['store_id', 'snap']);
      t.index(['snap']);
    });
    await db.schema.createTable('store_pins', (t) => {
      t.string('store_id', 64).notNullable().references('stores.id').onDelete('RESTRICT');
      t.integer('snap').notNullable().references('snaps.id').onDelete('RESTRICT');
      t.string('channel', 128).notNullable();
      t.integer('revision').notNullable();
      t.primary(['store_id', 'snap', 'channel']);
      t.index(['snap']);
    });
    await db.schema.createTable('store_policies', (t) => {
      t.string('store_id', 64).primary().references('stores.id').onDelete('RESTRICT');
      t.boolean('review_required').notNullable();
    });
  },
  async down(db: Knex): Promise<void> {
    for (const table of ['store_policies', 'store_pins', 'store_curation', 'channel_heads', 'channel_releases', 'snap_revisions', 'snap_uploads', 'snaps']) {
      await db.schema.dropTable(table);
    }
  },
};
