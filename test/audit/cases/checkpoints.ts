import { expect, it } from 'vitest';
import { cli } from '../../support/cli.js';
import { signWithAnotherKey, tampered, type AuditFixture } from '../fixture.js';

type Row = Record<string, unknown>;

/** Checkpoints forged in the database: each named at its sequence number, checked against the audit key in the HSM. */
export function checkpointCases(f: AuditFixture): void {
  const checkpoint = async (seq: number) => (await f.db('audit_checkpoints').where({ seq }).first()) as Row;

  it('made no audit key before the first checkpoint: opening the vault for a command never generates one', () => {
    expect(f.keyIdBeforeCheckpoint).toBeNull();
    expect(f.auditKeyId).toMatch(/^[A-Za-z0-9_-]{64}$/);
  });

  it('stores each checkpoint with its sequence number, hash, time, key id and signature', async () => {
    const list = (await f.db('audit_checkpoints').orderBy('seq')) as Row[];
    const hashes = new Map(((await f.db('audit_log').whereIn('seq', [6, 9])) as Row[]).map((r) => [Number(r['seq']), r['hash']]));
    expect(list.map((c) => ({ seq: Number(c['seq']), hash: c['hash'], key: c['key_id'] }))).toEqual([
      { seq: 6, hash: hashes.get(6), key: f.auditKeyId },
      { seq: 9, hash: hashes.get(9), key: f.auditKeyId },
    ]);
    for (const c of list) {
      expect(c['at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // RSA-4096: 512 bytes.
      expect(Buffer.from(String(c['signature']), 'base64')).toHaveLength(512);
    }
  });

  it('names a checkpoint whose signature was edited', async () => {
    const r = await tampered(f, async () => {
      const sig = String((await checkpoint(9))['signature']);
      await f.db('audit_checkpoints').where({ seq: 9 }).update({ signature: `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}` });
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`forged checkpoint at entry 9: its signature does not verify with the audit key ${f.auditKeyId}\n`);
  });

  it('names a checkpoint re-signed with another key of the HSM, whether it names that key or the audit key', async () => {
    const c = await checkpoint(9);
    const other = await signWithAnotherKey(f, { seq: 9, hash: String(c['hash']), at: String(c['at']) });
    const named = await tampered(f, () => f.db('audit_checkpoints').where({ seq: 9 }).update({ key_id: other.keyId, signature: other.signature }));
    expect(named.code).toBe(1);
    expect(named.stdout).toBe(`forged checkpoint at entry 9: it names key "${other.keyId}", not the audit key ${f.auditKeyId}\n`);
    const hidden = await tampered(f, () => f.db('audit_checkpoints').where({ seq: 9 }).update({ signature: other.signature }));
    expect(hidden.code).toBe(1);
    expect(hidden.stdout).toBe(`forged checkpoint at entry 9: its signature does not verify with the audit key ${f.auditKeyId}\n`);
  });

  it('names a checkpoint moved to point at another head, and one slipped in', async () => {
    const eight = (await f.db('audit_log').where({ seq: 8 }).first()) as Row;
    const moved = await tampered(f, () => f.db('audit_checkpoints').where({ seq: 9 }).update({ seq: 8, hash: eight['hash'] }));
    expect(moved.code).toBe(1);
    expect(moved.stdout).toBe(`forged checkpoint at entry 8: its signature does not verify with the audit key ${f.auditKeyId}\n`);
    const c = await checkpoint(9);
    const added = await tampered(f, () => f.db('audit_checkpoints').insert({ ...c, seq: 8, hash: eight['hash'] }));
    expect(added.stdout).toBe(`forged checkpoint at entry 8: its signature does not verify with the audit key ${f.auditKeyId}\n`);
    const json = JSON.parse((await tampered(f, () => f.db('audit_checkpoints').insert({ ...c, seq: 8, hash: eight['hash'] }), () => cli('audit', 'verify', '--json', '--data-dir', f.dir))).stdout) as Row;
    expect(json).toMatchObject({ ok: false, seq: 8, problem: 'checkpoint-forged', checkpoints: 3, signedUpTo: 9 });
  });

  it('refuses a vault whose audit key is not the one pinned', async () => {
    const pinned = await cli('audit', 'verify', '--key-id', f.auditKeyId, '--data-dir', f.dir);
    expect(pinned.code).toBe(0);
    const other = await cli('audit', 'verify', '--key-id', 'x'.repeat(64), '--data-dir', f.dir);
    expect(other.code).toBe(1);
    expect(other.stderr).toBe(`serial-vault: the vault's audit key is ${f.auditKeyId}, not the pinned ${'x'.repeat(64)} [ERR_AUDIT_KEY_UNTRUSTED]\n`);
  });
}
