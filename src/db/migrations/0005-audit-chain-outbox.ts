import type { Knex } from 'knex';
import { GENESIS, chainedFieldsOf, entryHash } from '../../audit/chain.js';

/**
 * The audit log becomes a hash chain (sequence, previous hash, hash, and a
 * head row holding the last ones), existing entries chained in the order
 * they were written; and the outbox, the change feed every change appends
 * to in its own transaction.
 */

const APPEND_ONLY_SQLITE = [
  `CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
  `CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
];

async function withoutAppendOnly(db: Knex, work: () => Promise<void>): Promise<void> {
  const pg = db.client.config.client === 'pg';
  if (pg) await db.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change');
  else for (const name of ['audit_log_no_update', 'audit_log_no_delete']) await db.raw(`DROP TRIGGER ${name}`);
  await work();
  if (pg) await db.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change');
  else for (const sql of APPEND_ONLY_SQLITE) await db.raw(sql);
}

export const auditChainOutbox = {
  name: '0005_audit_chain_outbox',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('audit_head', (t) => {
      t.string('name', 16).primary();
      t.integer('seq').notNullable();
      t.string('hash', 64).notNullable();
    });
    await db.schema.createTable('outbox', (t) => {
      t.increments('seq');
      t.string('entity', 32).notNullable();
      // Room for the longest key written: brand/model/serial (64 + 128 + 128 + 2).
      t.string('key', 512).notNullable();
      t.string('op', 64).notNullable();
      t.string('at', 32).notNullable();
    });
    await withoutAppendOnly(db, async () => {
      await db.schema.alterTable('audit_log', (t) => {
        t.integer('seq');
        t.string('prev_hash', 64);
        t.string('hash', 64);
      });
      let prev = GENESIS;
      let seq = 0;
      for (const r of (await db('audit_log').orderBy('id')) as Record<string, unknown>[]) {
        seq++;
        const hash = entryHash(prev, chainedFieldsOf(r, seq));
        await db('audit_log').where({ id: r['id'] }).update({ seq, prev_hash: prev, hash });
        prev = hash;
      }
      await db('audit_head').insert({ name: 'audit', seq, hash: seq === 0 ? GENESIS : prev });
      await db.schema.alterTable('audit_log', (t) => {
        t.unique(['seq']);
      });
    });
  },
  async down(db: Knex): Promise<void> {
    await withoutAppendOnly(db, async () => {
      await db.schema.alterTable('audit_log', (t) => {
        t.dropUnique(['seq']);
        t.dropColumn('seq');
        t.dropColumn('prev_hash');
        t.dropColumn('hash');
      });
    });
    await db.schema.dropTableIfExists('outbox');
    await db.schema.dropTableIfExists('audit_head');
  },
};
