import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { migrateOneStep, openDatabase } from '../../src/db/database.js';
import { cli } from '../support/cli.js';
import { freshPostgresDatabase } from '../support/postgres.js';
import { removeDataDir, testDataDir } from '../support/vault.js';
import { checkpointCases } from './cases/checkpoints.js';
import { exportCases } from './cases/export.js';
import { entryCases } from './cases/entries.js';
import { auditFixture, rows } from './fixture.js';

/**
 * The audit log is a hash chain with signed checkpoints: tests edit, delete,
 * reorder, insert and cut off entries, and forge checkpoints, directly in
 * the database and in an export, and `serial-vault audit verify` names the
 * first bad sequence number, on SQLite and PostgreSQL alike. One vault per
 * database for all of them (test/audit/fixture.ts).
 */
describe.each(['sqlite', 'pg'] as const)('the audit chain on %s', (kind) => {
  const f = auditFixture(kind);
  const verify = () => cli('audit', 'verify', '--data-dir', f.dir);

  it('holds for an untouched log, each change one entry in sequence, each with its outbox row, two checkpoints signed', async () => {
    const r = await verify();
    expect(r.stdout).toMatch(new RegExp(`^ok: 9 entries, the chain holds \\(head [0-9a-f]{64}\\)\\n2 checkpoints signed by audit key ${f.auditKeyId}, the last at entry 9\\n$`));
    expect(r.code).toBe(0);
    // The demo's root, brand, model and API key (custody, catalog, provisioning), then the account changes.
    expect((await rows(f.db)).map((e) => `${e['seq']} ${e['action']} ${e['actor']}`)).toEqual([
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
    expect((await f.db('outbox').orderBy('seq')).map((o) => `${o.entity}:${o.op}`)).toEqual([
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

  entryCases(f);
  checkpointCases(f);
  exportCases(f);

  it('holds again once the rows are back, and keeps chaining new changes (the tail not signed until the next checkpoint)', async () => {
    expect((await cli('person', 'add', 'c@demo.test', '--data-dir', f.dir)).code).toBe(0);
    expect((await verify()).stdout).toMatch(/^ok: 10 entries.*\n2 checkpoints signed by audit key \S+, the last at entry 9; entry 10 is not signed yet\n$/);
    expect((await cli('audit', 'checkpoint', '--data-dir', f.dir)).stdout).toBe(`signed entry 10 (hash ${String((await rows(f.db))[9]?.['hash'])}) with audit key ${f.auditKeyId}\n`);
    expect((await cli('audit', 'checkpoint', '--data-dir', f.dir)).stdout).toMatch(/^entry 10 is signed already \(checkpoint of .*\)\n$/);
  });

  it('the tables still refuse updates and deletes', async () => {
    await expect(f.db('audit_log').where({ seq: 1 }).update({ actor: 'x' })).rejects.toThrow(/append-only/);
    await expect(f.db('audit_log').where({ seq: 1 }).delete()).rejects.toThrow(/append-only/);
    await expect(f.db('audit_checkpoints').where({ seq: 6 }).update({ hash: 'x' })).rejects.toThrow(/append-only/);
    await expect(f.db('audit_checkpoints').where({ seq: 6 }).delete()).rejects.toThrow(/append-only/);
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
