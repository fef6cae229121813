import type { Knex } from 'knex';
import { READ_ONLY_MARKER, REPLICATED_TABLES } from './replicated-tables.js';
import { tableShape } from './table-shape.js';

/**
 * Change capture for the sync feed. Triggers on every replicated table
 * write the row as it now is (or as it was, for a delete) to `sync_rows`, in
 * the transaction of the change: whatever writes the table, unit of work or
 * not, the feed sees it. On PostgreSQL the capture first takes the audit
 * head row lock every unit of work takes, so feed sequence numbers commit in
 * order and a reader that saw N never misses a lower one later.
 *
 * The same triggers are the appliance's read-only guard: with
 * `sync_guard.role = 'appliance'` a write refuses unless the applier set
 * `applying` in its own transaction (other connections never see it set).
 *
 * SQLite triggers list the table's columns: a migration that changes a
 * replicated table calls `installChangeCapture` again.
 */
export async function installChangeCapture(db: Knex): Promise<void> {
  if (db.client.config.client === 'pg') await installPg(db);
  else await installSqlite(db);
}

async function installSqlite(db: Knex): Promise<void> {
  for (const { table, local = [] } of REPLICATED_TABLES) {
    const { columns, pk } = await tableShape(db, table);
    if (pk.length === 0) throw new Error(`replicated table ${table} has no primary key`);
    const shared = columns.filter((c) => !local.includes(c));
    const image = (row: 'NEW' | 'OLD') => `json_object(${shared.map((c) => `'${c}', ${row}."${c}"`).join(', ')})`;
    const key = (row: 'NEW' | 'OLD') => `json_array(${pk.map((c) => `${row}."${c}"`).join(', ')})`;
    const capturing = `(SELECT applying FROM sync_guard WHERE name = 'sync') = 0`;
    const guarded = `(SELECT role FROM sync_guard WHERE name = 'sync') = 'appliance' AND ${capturing}`;
    const refuse = `SELECT RAISE(ABORT, '${READ_ONLY_MARKER}${table}')`;
    const updateOf = shared.map((c) => `"${c}"`).join(', ');
    for (const suffix of ['guard_ins', 'guard_upd', 'guard_del', 'cap_ins', 'cap_upd', 'cap_del']) await db.raw(`DROP TRIGGER IF EXISTS sync_${suffix}_${table}`);
    await db.raw(`CREATE TRIGGER sync_guard_ins_${table} BEFORE INSERT ON ${table} WHEN ${guarded} BEGIN ${refuse}; END`);
    await db.raw(`CREATE TRIGGER sync_guard_upd_${table} BEFORE UPDATE OF ${updateOf} ON ${table} WHEN ${guarded} BEGIN ${refuse}; END`);
    await db.raw(`CREATE TRIGGER sync_guard_del_${table} BEFORE DELETE ON ${table} WHEN ${guarded} BEGIN ${refuse}; END`);
    const insert = (op: string, row: 'NEW' | 'OLD') => `INSERT INTO sync_rows (tbl, pk, op, image) VALUES ('${table}', ${key(row)}, '${op}', ${image(row)})`;
    await db.raw(`CREATE TRIGGER sync_cap_ins_${table} AFTER INSERT ON ${table} WHEN ${capturing} BEGIN ${insert('upsert', 'NEW')}; END`);
    // A key change is a delete of the old key and an upsert of the new one.
    await db.raw(
      `CREATE TRIGGER sync_cap_upd_${table} AFTER UPDATE OF ${updateOf} ON ${table} WHEN ${capturing} BEGIN ` +
        `INSERT INTO sync_rows (tbl, pk, op, image) SELECT '${table}', ${key('OLD')}, 'delete', ${image('OLD')} WHERE ${key('OLD')} <> ${key('NEW')}; ` +
        `${insert('upsert', 'NEW')}; END`,
    );
    await db.raw(`CREATE TRIGGER sync_cap_del_${table} AFTER DELETE ON ${table} WHEN ${capturing} BEGIN ${insert('delete', 'OLD')}; END`);
  }
}

async function installPg(db: Knex): Promise<void> {
  await db.raw(`
    CREATE OR REPLACE FUNCTION sync_capture() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      g record;
      img jsonb;
      old_img jsonb;
      key jsonb := '[]'::jsonb;
      old_key jsonb := '[]'::jsonb;
      c text;
      local_cols text[] := string_to_array(TG_ARGV[0], ',');
    BEGIN
      SELECT role, applying INTO g FROM sync_guard WHERE name = 'sync';
      IF g.applying = 1 THEN RETURN NULL; END IF;
      IF g.role = 'appliance' THEN RAISE EXCEPTION '${READ_ONLY_MARKER}%', TG_TABLE_NAME; END IF;
      PERFORM 1 FROM audit_head WHERE name = 'audit' FOR UPDATE;
      IF TG_OP <> 'INSERT' THEN old_img := to_jsonb(OLD) - local_cols; END IF;
      IF TG_OP <> 'DELETE' THEN img := to_jsonb(NEW) - local_cols; END IF;
      FOR i IN 1 .. TG_NARGS - 1 LOOP
        c := TG_ARGV[i];
        IF img IS NOT NULL THEN key := key || jsonb_build_array(img -> c); END IF;
        IF old_img IS NOT NULL THEN old_key := old_key || jsonb_build_array(old_img -> c); END IF;
      END LOOP;
      IF TG_OP = 'UPDATE' AND img = old_img THEN RETURN NULL; END IF;
      IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND key <> old_key) THEN
        INSERT INTO sync_rows (tbl, pk, op, image) VALUES (TG_TABLE_NAME, old_key::text, 'delete', old_img::text);
      END IF;
      IF TG_OP <> 'DELETE' THEN
        INSERT INTO sync_rows (tbl, pk, op, image) VALUES (TG_TABLE_NAME, key::text, 'upsert', img::text);
      END IF;
      RETURN NULL;
    END $$`);
  for (const { table, local = [] } of REPLICATED_TABLES) {
    const { pk } = await tableShape(db, table);
    if (pk.length === 0) throw new Error(`replicated table ${table} has no primary key`);
    const args = [local.join(','), ...pk].map((a) => `'${a}'`).join(', ');
    await db.raw(`DROP TRIGGER IF EXISTS sync_capture_${table} ON ${table}`);
    await db.raw(`CREATE TRIGGER sync_capture_${table} AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION sync_capture(${args})`);
  }
}
