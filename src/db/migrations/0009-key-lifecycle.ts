import type { Knex } from 'knex';
import { decodeAssertion } from '../../assertions/index.js';

/**
 * Keys get a lifecycle: a purpose (what they sign), a state, the window
 * they sign in, the key that replaced them, and in the canonical setup the
 * account-key-request awaiting Canonical's account-key. Ceremonies: actions
 * that wait for M approvals from distinct security officers, each brand
 * with its own policy.
 */
export const keyLifecycle = {
  name: '0009_key_lifecycle',
  async up(db: Knex): Promise<void> {
    await db.schema.alterTable('signing_keys', (t) => {
      // The account-key's `name` header: unique per account, as snapd and Canonical require.
      t.string('name', 64);
      // pending | active | revoked; retired and scheduled follow from since and until.
      t.string('state', 16).notNullable().defaultTo('active');
      t.string('since', 32);
      t.string('until', 32);
      t.integer('replaced_by');
      t.string('revoked_at', 32);
      t.text('account_key_request');
    });
    // Brand keys so far signed serials (and models, with no models key of their own).
    await db('signing_keys').where({ purpose: 'brand' }).update({ purpose: 'serials' });
    // Each key's name and start as its account-key says (a canonical brand's key may be "default").
    for (const k of (await db('signing_keys').select('id', 'key_id', 'purpose', 'created_at')) as Array<Record<string, unknown>>) {
      const row = (await db('assertions').where({ type: 'account-key', primary_key: String(k['key_id']) }).first('encoded')) as { encoded: string } | undefined;
      const accountKey = row ? decodeAssertion(Buffer.from(row.encoded, 'utf8')) : undefined;
      const name = accountKey?.header('name');
      const since = accountKey?.header('since');
      await db('signing_keys')
        .where({ id: k['id'] })
        .update({ name: typeof name === 'string' && name !== '' ? name : String(k['purpose']), since: typeof since === 'string' ? since : String(k['created_at']) });
    }
    await db.schema.alterTable('signing_keys', (t) => {
      t.unique(['brand_id', 'name']);
    });
    await db.schema.createTable('ceremony_policies', (t) => {
      t.integer('brand_id').primary().references('brands.id').onDelete('CASCADE');
      t.integer('approvals').notNullable();
      t.text('actions').notNullable(); // JSON array of action names
      t.string('updated_at', 32).notNullable();
    });
    await db.schema.createTable('ceremonies', (t) => {
      t.increments('id');
      t.integer('brand_id').notNullable().references('brands.id').onDelete('CASCADE');
      t.string('action', 64).notNullable();
      t.text('params').notNullable(); // JSON
      t.string('proposed_by', 320).notNullable();
      t.string('proposed_at', 32).notNullable();
      t.string('expires_at', 32).notNullable();
      t.integer('approvals_needed').notNullable();
      // proposed | executing | executed | failed
      t.string('state', 16).notNullable();
      t.string('executed_at', 32);
      t.text('result'); // JSON: what the execution did, or why it failed
      t.index(['brand_id', 'state']);
    });
    await db.schema.createTable('ceremony_approvals', (t) => {
      t.integer('ceremony_id').notNullable().references('ceremonies.id').onDelete('CASCADE');
      t.string('approver', 320).notNullable();
      t.string('at', 32).notNullable();
      t.primary(['ceremony_id', 'approver']);
    });
  },
  /**
   * Not undone: the code before it would sign with revoked keys again and
   * forget the ceremonies. Restore the backup taken before the upgrade.
   */
  async down(_db: Knex): Promise<void> {
    throw new Error('migration 0009_key_lifecycle cannot be undone: earlier versions would sign with revoked keys; restore the backup taken before the upgrade');
  },
};
