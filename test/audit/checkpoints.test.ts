import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openVault } from '../../src/app.js';
import { checkpointPayload, checkpointProblem, type Checkpoint } from '../../src/audit/checkpoint.js';
import { AuditService } from '../../src/audit/service.js';
import { COMMITTED, OPERATOR_ACTOR, UnitOfWork } from '../../src/audit/unit-of-work.js';
import { loadConfig } from '../../src/config.js';
import { migrate, openDatabase, type Database } from '../../src/db/database.js';
import { KeyStoreError } from '../../src/keystore/errors.js';
import type { KeyStore } from '../../src/keystore/keystore.js';
import { MemoryKeyStore } from '../../src/keystore/memory.js';
import { initDataDir } from '../../src/setup/data-dir.js';
import { freshPostgresDatabase } from '../support/postgres.js';
import { captureLogger, removeDataDir, testDataDir } from '../support/vault.js';

/**
 * Checkpoints themselves: what is signed, that the audit key is made at the
 * first one only, and the background schedule (after commits, on a timer,
 * a failure logged once, never failing a change). Keys in memory, small:
 * the SoftHSM2 path is covered by chain.test.ts.
 */
const change = (db: Database, n: number) =>
  new UnitOfWork(db).run(OPERATOR_ACTOR, (_trx, record) => record({ action: 'person.add', targetType: 'person', targetId: String(n), storeId: null, before: null, after: { n } }));

async function until(what: () => Promise<boolean>, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !(await what()); ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the checkpoint payload', () => {
  const good = { seq: 9, hash: 'ab'.repeat(32), at: '2026-05-01T12:00:00.000Z' };

  it('is a prefixed line per field, nothing else', () => {
    expect(checkpointPayload(good).toString()).toBe(`serial-vault audit checkpoint v1\n9\n${'ab'.repeat(32)}\n2026-05-01T12:00:00.000Z\n`);
  });

  it('refuses fields that would make it ambiguous', () => {
    for (const bad of [{ seq: 0 }, { seq: 1.5 }, { hash: 'AB'.repeat(32) }, { hash: `${'ab'.repeat(32)}\n1` }, { at: '2026-05-01T12:00:00.000Z\n10' }, { at: 'yesterday' }]) {
      expect(() => checkpointPayload({ ...good, ...bad }), JSON.stringify(bad)).toThrow(RangeError);
    }
  });

  it('checks each field of a signed checkpoint, one change at a time', async () => {
    const keys = new MemoryKeyStore({ bits: 1024 });
    const key = await keys.generate('vault-audit');
    const signature = Buffer.from(await keys.signDigest('vault-audit', createHash('sha512').update(checkpointPayload(good)).digest())).toString('base64');
    const signed: Checkpoint = { ...good, keyId: key.keyId, signature };
    expect(checkpointProblem(key.publicKey, signed)).toBeUndefined();
    expect(checkpointProblem(key.publicKey, { ...signed, seq: 8 })).toMatch(/signature does not verify/);
    expect(checkpointProblem(key.publicKey, { ...signed, hash: 'cd'.repeat(32) })).toMatch(/signature does not verify/);
    expect(checkpointProblem(key.publicKey, { ...signed, at: '2026-05-01T12:00:01.000Z' })).toMatch(/signature does not verify/);
    expect(checkpointProblem(key.publicKey, { ...signed, keyId: 'x' })).toBe(`it names key "x", not the audit key ${key.keyId}`);
    expect(checkpointProblem(key.publicKey, { ...signed, signature: `${signature}!` })).toBe('its signature is not base64');
    expect(checkpointProblem(key.publicKey, { ...signed, at: 'now' })).toBe('its sequence number, hash or time is malformed');
  });
});

describe.each(['sqlite', 'pg'] as const)('checkpoints on %s', (kind) => {
  const dir = testDataDir();
  let db: Database;
  let n = 0;
  // One HSM for the database, as in a vault: each checkpoint chains onto one signed by the same key.
  const keys = new MemoryKeyStore({ bits: 1024 });
  const services: AuditService[] = [];
  const service = (keystore: KeyStore, options: { every?: number; intervalMs?: number } = {}) => {
    const capture = captureLogger();
    const s = new AuditService(db, keystore, { checkpointEvery: options.every ?? 100, checkpointIntervalMs: options.intervalMs ?? 3600_000, logger: capture.logger });
    services.push(s);
    return { s, logs: capture.text };
  };
  const checkpointSeqs = async () => ((await db('audit_checkpoints').orderBy('seq')) as Array<{ seq: number | string }>).map((c) => Number(c.seq));

  beforeAll(async () => {
    db = kind === 'pg' ? openDatabase({ client: 'pg', connection: await freshPostgresDatabase() }) : openDatabase({ client: 'sqlite', filename: join(dir, 'vault.db') });
    await migrate(db);
  });
  afterEach(async () => {
    for (const s of services.splice(0)) await s.stopCheckpoints();
  });
  afterAll(async () => {
    await db?.destroy();
    removeDataDir(dir);
  });

  it('makes the audit key at the first checkpoint, not before, and once for two signers of the same head', async () => {
    const a = service(keys).s;
    expect(await a.checkpoint()).toEqual({ made: false, checkpoint: undefined });
    for (let i = 0; i < 3; i++) await change(db, ++n);
    expect(await keys.list()).toEqual([]);
    const [one, two] = await Promise.all([a.checkpoint(), service(keys).s.checkpoint()]);
    expect([one.made, two.made].sort()).toEqual([false, true]);
    expect(one.checkpoint).toEqual(two.checkpoint);
    expect((await keys.list()).map((k) => k.label)).toEqual(['vault-audit']);
    expect(await checkpointSeqs()).toEqual([3]);
    expect(await a.verify()).toMatchObject({ ok: true, entries: 3, checkpoints: 1, signedUpTo: 3, keyId: (await keys.find('vault-audit'))?.keyId });
  });

  it('signs in the background once checkpointEvery entries were committed, not before', async () => {
    const { s, logs } = service(keys, { every: 3 });
    await s.checkpoint();
    s.startCheckpoints();
    const start = n;
    await change(db, ++n);
    await change(db, ++n);
    await new Promise((r) => setTimeout(r, 400));
    expect((await checkpointSeqs()).at(-1)).toBe(start);
    await change(db, ++n);
    await until(async () => (await checkpointSeqs()).at(-1) === n);
    expect(logs()).toContain('audit checkpoint signed');
  });

  it('signs on the timer when fewer entries were written, and not again with none', async () => {
    const { s } = service(keys, { every: 1000, intervalMs: 100 });
    await s.checkpoint();
    s.startCheckpoints();
    await change(db, ++n);
    await until(async () => (await checkpointSeqs()).at(-1) === n);
    const count = (await checkpointSeqs()).length;
    await new Promise((r) => setTimeout(r, 350));
    expect((await checkpointSeqs()).length).toBe(count);
  });

  it('never fails a change when signing fails, logs it once, and says when it works again', async () => {
    let broken = true;
    const flaky: KeyStore = {
      find: (ref) => keys.find(ref),
      generate: (label) => keys.generate(label),
      list: () => keys.list(),
      signDigest: (ref, digest) => (broken ? Promise.reject(new KeyStoreError('ERR_HSM_UNAVAILABLE', 'the token is away')) : keys.signDigest(ref, digest)),
      destroy: (ref) => keys.destroy(ref),
      health: () => keys.health(),
      close: () => keys.close(),
    };
    const { s, logs } = service(flaky, { every: 1, intervalMs: 300 });
    s.startCheckpoints();
    for (let i = 0; i < 4; i++) await change(db, ++n);
    await until(async () => logs().includes('cannot sign an audit checkpoint'));
    await new Promise((r) => setTimeout(r, 400));
    expect(logs().split('\n').filter((l) => l.includes('cannot sign an audit checkpoint'))).toHaveLength(1);
    expect(logs()).toContain('"code":"ERR_HSM_UNAVAILABLE"');
    broken = false;
    await until(async () => (await checkpointSeqs()).at(-1) === n);
    expect(logs()).toContain('audit checkpoints resumed');
  });
});

describe("the vault's checkpointer", () => {
  it('stops with the vault: started by the server only, stopped by close', async () => {
    const data = testDataDir();
    try {
      await initDataDir(data, { port: 0, adminPort: 0, storePort: 0 });
      const own = new MemoryKeyStore({ bits: 1024 });
      const vault = await openVault(await loadConfig(data, { audit: { checkpointEvery: 1, checkpointMinutes: 60 } }), { keystore: own, logger: captureLogger().logger });
      await change(vault.db, 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(await own.find('vault-audit')).toBeUndefined();
      const before = vault.db.listenerCount(COMMITTED);
      vault.audit.startCheckpoints();
      expect(vault.db.listenerCount(COMMITTED)).toBe(before + 1);
      await change(vault.db, 2);
      await until(async () => (await vault.audit.verify()).signedUpTo === 2);
      await vault.close();
      expect(vault.db.listenerCount(COMMITTED)).toBe(before);
    } finally {
      removeDataDir(data);
    }
  });
});
