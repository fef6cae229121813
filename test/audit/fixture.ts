import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect } from 'vitest';
import { openVault } from '../../src/app.js';
import { chainedFieldsOf, entryHash } from '../../src/audit/chain.js';
import { AUDIT_KEY_LABEL, checkpointDigest } from '../../src/audit/checkpoint.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { cli, type CliResult } from '../support/cli.js';
import { freshPostgresDatabase } from '../support/postgres.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

export type Kind = 'sqlite' | 'pg';
type Row = Record<string, unknown>;

/**
 * One vault per database for the audit tests: the demo (entries 1 to 4),
 * two people (5, 6), a checkpoint at 6, a grant, a store and a grant (7 to
 * 9), a checkpoint at 9. Tests tamper with its tables directly, as someone
 * with access to the database would (append-only triggers switched off),
 * and `tampered` puts every row back after each.
 */
export interface AuditFixture {
  readonly kind: Kind;
  readonly dir: string;
  db: Database;
  /** The audit key id, as `audit checkpoint` printed it. */
  auditKeyId: string;
  /** What `audit verify --json` said of the key before the first checkpoint. */
  keyIdBeforeCheckpoint: unknown;
}

export function auditFixture(kind: Kind): AuditFixture {
  const f = { kind, dir: testDataDir() } as AuditFixture;
  beforeAll(async () => {
    const pg = kind === 'pg' ? await freshPostgresDatabase() : undefined;
    const ok = async (...args: string[]) => {
      const r = await cli(...args, '--data-dir', f.dir);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    await ok('init', '--demo', '--port', '0', '--admin-port', '0', '--store-port', '0', ...(pg ? ['--database', pg] : []));
    await ok('person', 'add', 'a@demo.test');
    await ok('person', 'add', 'b@demo.test');
    f.keyIdBeforeCheckpoint = (JSON.parse((await ok('audit', 'verify', '--json')).stdout) as { keyId: unknown }).keyId;
    f.auditKeyId = /with audit key (\S+)\n/.exec((await ok('audit', 'checkpoint')).stdout)?.[1] ?? '';
    await ok('role', 'grant', 'demo-brand', 'a@demo.test', 'viewer');
    await ok('store', 'create', 'widgets', '--parent', 'demo-brand', '--kind', 'product');
    await ok('role', 'grant', 'widgets', 'b@demo.test', 'publisher');
    await ok('audit', 'checkpoint');
    f.db = pg ? openDatabase({ client: 'pg', connection: pg }) : openDatabase({ client: 'sqlite', filename: join(f.dir, 'vault.db') });
  }, 120_000);
  afterAll(async () => {
    await f.db?.destroy();
    removeDataDir(f.dir);
  });
  return f;
}

export const rows = async (db: Database): Promise<Row[]> => (await db('audit_log').orderBy('seq')) as Row[];

const TRIGGERS: Record<string, string[]> = {
  audit_log: ['audit_log_no_update', 'audit_log_no_delete'],
  audit_checkpoints: ['audit_checkpoints_no_update', 'audit_checkpoints_no_delete'],
};

async function appendOnly(f: AuditFixture, on: boolean): Promise<void> {
  for (const [table, [noUpdate, noDelete]] of Object.entries(TRIGGERS)) {
    if (f.kind === 'pg') await f.db.raw(`ALTER TABLE ${table} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER ${table === 'audit_log' ? 'audit_log_no_change' : 'audit_checkpoints_no_change'}`);
    else if (on) {
      await f.db.raw(`CREATE TRIGGER ${noUpdate} BEFORE UPDATE ON ${table} BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`);
      await f.db.raw(`CREATE TRIGGER ${noDelete} BEFORE DELETE ON ${table} BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`);
    } else {
      await f.db.raw(`DROP TRIGGER ${noUpdate}`);
      await f.db.raw(`DROP TRIGGER ${noDelete}`);
    }
  }
}

/** Runs `tamper` with the triggers off, then `check` (audit verify by default), then puts every entry, checkpoint and the head back. */
export async function tampered(f: AuditFixture, tamper: () => Promise<unknown>, check: () => Promise<CliResult> = () => cli('audit', 'verify', '--data-dir', f.dir)): Promise<CliResult> {
  const saved = await rows(f.db);
  const checkpoints = (await f.db('audit_checkpoints').orderBy('seq')) as Row[];
  const head = (await f.db('audit_head').where({ name: 'audit' }).first()) as Row;
  await appendOnly(f, false);
  try {
    await tamper();
    return await check();
  } finally {
    await f.db('audit_log').delete();
    await f.db('audit_log').insert(saved);
    await f.db('audit_checkpoints').delete();
    if (checkpoints.length > 0) await f.db('audit_checkpoints').insert(checkpoints);
    await f.db('audit_head').where({ name: 'audit' }).update({ seq: head['seq'], hash: head['hash'] });
    await appendOnly(f, true);
  }
}

/** The hashes from entry `from` on recomputed, as someone rewriting the log would, and the head with them: the chain alone then holds. */
export function rechain(list: Row[], from: number): Row[] {
  let prev = String(list.find((r) => Number(r['seq']) === from - 1)?.['hash'] ?? '0'.repeat(64));
  return list.map((r) => {
    if (Number(r['seq']) < from) return r;
    const hash = entryHash(prev, chainedFieldsOf(r));
    const out = { ...r, prev_hash: prev, hash };
    prev = hash;
    return out;
  });
}

/** Replaces the log with `list` (triggers off) and sets the head to its last entry. */
export async function rewriteLog(f: AuditFixture, list: Row[]): Promise<void> {
  await f.db('audit_log').delete();
  await f.db('audit_log').insert(list);
  const last = list[list.length - 1];
  await f.db('audit_head').where({ name: 'audit' }).update({ seq: last?.['seq'] ?? 0, hash: last?.['hash'] });
}

/** A checkpoint's fields signed with another key of the vault's HSM (the demo brand's), as an insider with the PIN could. */
export async function signWithAnotherKey(f: AuditFixture, fields: { seq: number; hash: string; at: string }): Promise<{ keyId: string; publicKey: string; signature: string }> {
  const vault = await openVault(await loadConfig(f.dir), { logger: pino({ level: 'silent' }) });
  try {
    const other = (await vault.keystore.list()).find((k) => k.label !== AUDIT_KEY_LABEL && k.label.startsWith('brand-'));
    if (!other) throw new Error('the demo has no brand key');
    const signature = Buffer.from(await vault.keystore.signDigest(other.label, checkpointDigest(fields))).toString('base64');
    return { keyId: other.keyId, publicKey: other.publicKey.encoded, signature };
  } finally {
    await vault.close();
  }
}

/** A made-up entry after `prev`, linked to it and hashed, so it passes on its own. */
export function forgedAfter(prev: Row, changes: Row): Row {
  const entry: Row = { ...prev, id: 1000, seq: Number(prev['seq']) + 1, ...changes, prev_hash: prev['hash'] };
  return { ...entry, hash: entryHash(String(prev['hash']), chainedFieldsOf(entry)) };
}
