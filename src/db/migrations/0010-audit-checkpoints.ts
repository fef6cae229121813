import type { Knex } from 'knex';

/**
 * Signed checkpoints of the audit chain: the audit key's signature over the
 * hash of entry `seq`, one row per checkpoint. Append-only like `audit_log`
 * (triggers on both databases), so only someone who switches triggers off
 * can change one, and the signature shows that they did.
 */
export const auditCheckpoints = {
  name: '0010_audit_checkpoints',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('audit_checkpoints', (t) => {
      // One checkpoint per entry: two processes signing the same head write it once.
      t.integer('seq').primary();
      t.string('hash', 64).notNullable();
      t.string('at', 32).notNullable();
      // A snapd key id: base64url of a SHA3-384, 64 characters.
      t.string('key_id', 64).notNullable();
      // Base64 of an RSA signature: 684 characters for RSA-4096.
      t.text('signature').notNullable();
    });
    if (db.client.config.client === 'pg') {
      await db.raw(`CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit_checkpoints is append-only'; END $$ LANGUAGE plpgsql`);
      await db.raw('CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only()');
    } else {
      await db.raw(`CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END`);
      await db.raw(`CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END`);
    }
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTableIfExists('audit_checkpoints');
    if (db.client.config.client === 'pg') await db.raw('DROP FUNCTION IF EXISTS audit_checkpoints_append_only()');
  },
};
