import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { migrateOneStep, openDatabase, type Database } from '../../src/db/database.js';
import { cli } from '../support/cli.js';
import { freshPostgresDatabase } from '../support/postgres.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

/**
 * The audit log is a hash chain: a test edits, deletes and reorders rows
 * directly in the database (as someone with access to it would, the
 * append-only triggers switched off), and `serial-vault audit verify`
 * names the first bad sequence number, on SQLite and PostgreSQL alike.
 */
describe.each(['sqlite', 'pg'] as const)('the audit chain on %s', (kind) => {
  const dir = testDataDir();
  let db: Database;
  let pg: string | undefined;

  const verify = () => cli('audit', 'verify', '--data-dir', dir);
  const rows = async () => (await db('audit_log').orderBy('seq')) as Array<Record<string, unknown>>;

  /** Runs `tamper` with the triggers off, checks what verify says, then puts every row back. */
  async function tampered(tamper: () => Promise<void>): Promise<{ code: number; stdout: string }> {
    const saved = await rows();
    const toggle = async (on: boolean) => {
      if (pg) await db.raw(`ALTER TABLE audit_log ${on ? 'ENABLE' : 'DISABLE'} TRIGGER audit_log_no_change`);
      else if (on) {
        await db.raw(`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`);
        await db.raw(`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`);
      } else {
        await db.raw('DROP TRIGGER audit_log_no_update');
        await db.raw('DROP TRIGGER audit_log_no_delete');
      }
    };
    await toggle(false);
    try {
      await tamper();
      return await verify();
    } finally {
      await db('audit_log').delete();
      await db('audit_log').insert(saved);
      await toggle(true);
    }
  }

  beforeAll(async () => {
    pg = kind === 'pg' ? await freshPostgresDatabase() : undefined;
    expect((await cli('init', '--data-dir', dir, '--demo', '--port', '0', '--admin-port', '0', ...(pg ? ['--database', pg] : []))).code).toBe(0);
    for (const args of [
      ['person', 'add', 'a@demo.test'],
      ['person', 'add', 'b@demo.test'],
      ['role', 'grant', 'demo-brand', 'a@demo.test', 'viewer'],
      ['store', 'create', 'widgets', '--parent', 'demo-brand', '--kind', 'product'],
      ['role', 'grant', 'widgets', 'b@demo.test', 'publisher'],
    ]) {
      expect((await cli(...args, '--data-dir', dir)).code).toBe(0);
    }
    db = pg ? openDatabase({ client: 'pg', connection: pg }) : openDatabase({ client: 'sqlite', filename: join(dir, 'vault.db') });
  }, 120_000);

  afterAll(async () => {
    await db?.destroy();
    removeDataDir(dir);
  });

  it('holds for an untouched log, each change one entry in sequence, each with its outbox row', async () => {
    const r = await verify();
    expect(r.stdout).toMatch(/^ok: 9 entries, the chain holds \(head [0-9a-f]{64}\)\n$/);
    expect(r.code).toBe(0);
    // The demo's root, brand, model and API key (custody, catalog, provisioning), then the account changes.
    expect((await rows()).map((e) => `${e['seq']} ${e['action']} ${e['actor']}`)).toEqual([
      '1 authority.create operator',
      '2 brand.create operator',
      '3 model.register operator',
      '4 apikey.create operator',
      '5 person.add operator',
      '6 person.add operator',
      '7 grant.create operator',
      '8 store.create operator',
      '9 grant.create operator',
    ]);
    expect((await db('outbox').orderBy('seq')).map((o) => `${o.entity}:${o.op}`)).toEqual([
      'authority:authority.create',
      'brand:brand.create',
      'model:model.register',
      'apikey:apikey.create',
      'person:person.add',
      'person:person.add',
      'grant:grant.create',
      'store:store.create',
      'grant:grant.create',
    ]);
  });

  it('names an edited entry', async () => {
    const r = await tampered(() => db('audit_log').where({ seq: 3 }).update({ actor: 'someone-else' }));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('broken at entry 3: its content does not match its hash (it was edited) (2 entries before it hold)\n');
  });

  it('names a deleted entry', async () => {
    const r = await tampered(() => db('audit_log').where({ seq: 2 }).delete());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broken at entry 2: entry 2 is missing/);
  });

  it('names the first of two reordered entries', async () => {
    const r = await tampered(async () => {
      await db('audit_log').where({ seq: 4 }).update({ seq: 100 });
      await db('audit_log').where({ seq: 3 }).update({ seq: 4 });
      await db('audit_log').where({ seq: 100 }).update({ seq: 3 });
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broken at entry 3: its link to the previous entry does not match/);
  });

  it('names a cut-off tail', async () => {
    const r = await tampered(() => db('audit_log').where({ seq: 9 }).delete());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broken at entry 9: the log ends at entry 8, but 9 entries were written/);
  });

  it('holds again once the rows are back, and keeps chaining new changes', async () => {
    expect((await cli('person', 'add', 'c@demo.test', '--data-dir', dir)).code).toBe(0);
    expect((await verify()).stdout).toMatch(/^ok: 10 entries/);
  });

  it('the table still refuses updates and deletes', async () => {
    await expect(db('audit_log').where({ seq: 1 }).update({ actor: 'x' })).rejects.toThrow(/append-only/);
    await expect(db('audit_log').where({ seq: 1 }).delete()).rejects.toThrow(/append-only/);
  });
});

describe.each(['sqlite', 'pg'] as const)('the migration to the chain on %s', (kind) => {
  it('chains the entries written before it, in the order they were written', async () => {
    const dir = testDataDir();
    const db = kind === 'pg' ? openDatabase({ client: 'pg', connection: await freshPostgresDatabase() }) : openDatabase({ client: 'sqlite', filename: join(dir, 'vault.db') });
    try {
      for (let i = 0; i < 4; i++) await migrateOneStep(db);
      const entry = (n: number) => ({ at: `2026-01-0${n}T00:00:00.000Z`, actor: 'operator', actor_kind: 'operator', via: 'cli', action: 'person.add', target_type: 'person', target_id: String(n), store_id: null, client_address: null, before: null, after: `{"n":${n}}` });
      await db('audit_log').insert([entry(1), entry(2), entry(3)]);
      await migrateOneStep(db);
      expect((await db('audit_log').orderBy('id')).map((r) => Number(r.seq))).toEqual([1, 2, 3]);
      expect(await new AuditLog(db).verify()).toMatchObject({ ok: true, entries: 3 });
      await db.transaction((trx) => new AuditLog(trx).append({ actor: 'operator', actorKind: 'operator', via: 'cli', action: 'person.add', targetType: 'person', targetId: '4', storeId: null, clientAddress: null, before: null, after: null }));
      expect(await new AuditLog(db).verify()).toMatchObject({ ok: true, entries: 4 });
    } finally {
      await db.destroy();
      removeDataDir(dir);
    }
  });
});
