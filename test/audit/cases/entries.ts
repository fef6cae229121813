import { expect, it } from 'vitest';
import { cli } from '../../support/cli.js';
import { forgedAfter, rechain, rewriteLog, rows, tampered, type AuditFixture } from '../fixture.js';

/** Entries edited, deleted, moved, slipped in and cut off in the database: each named at its sequence number. */
export function entryCases(f: AuditFixture): void {
  it('names an edited entry', async () => {
    const r = await tampered(f, () => f.db('audit_log').where({ seq: 3 }).update({ actor: 'someone-else' }));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('broken at entry 3: its content does not match its hash (it was edited) (2 entries before it hold)\n');
  });

  it('names a deleted entry', async () => {
    const r = await tampered(f, () => f.db('audit_log').where({ seq: 2 }).delete());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('broken at entry 2: entry 2 is missing (the next one is 3) (1 entry before it holds)\n');
  });

  it('names the first of two reordered entries', async () => {
    const r = await tampered(f, async () => {
      await f.db('audit_log').where({ seq: 4 }).update({ seq: 100 });
      await f.db('audit_log').where({ seq: 3 }).update({ seq: 4 });
      await f.db('audit_log').where({ seq: 100 }).update({ seq: 3 });
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broken at entry 3: its link to the previous entry does not match/);
  });

  it('names an entry slipped in between two, linked and hashed to pass on its own', async () => {
    const r = await tampered(f, async () => {
      const list = await rows(f.db);
      const forged = forgedAfter(list[3]!, { action: 'grant.create', target_id: 'forged' });
      const shifted = list.map((e) => (Number(e['seq']) >= 5 ? { ...e, seq: Number(e['seq']) + 1 } : e));
      await rewriteLog(f, [...shifted.slice(0, 4), forged, ...shifted.slice(4)]);
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('broken at entry 5: it was slipped in: entry 6 links to entry 4, past it (4 entries before it hold)\n');
  });

  it('names an entry added after the last one written', async () => {
    const r = await tampered(f, async () => {
      await f.db('audit_log').insert(forgedAfter((await rows(f.db))[8]!, {}));
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('broken at entry 10: it was added after the last entry written (9): the log runs on to entry 10 (9 entries before it hold)\n');
  });

  it('names a cut-off tail', async () => {
    const r = await tampered(f, () => f.db('audit_log').where({ seq: 9 }).delete());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broken at entry 9: the log ends at entry 8, but 9 entries were written/);
  });

  it('names a tail cut off with the head row set back: the checkpoint at entry 9 shows it', async () => {
    const r = await tampered(f, async () => rewriteLog(f, (await rows(f.db)).slice(0, 7)));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('broken at entry 8: the log ends at entry 7, but a checkpoint was signed at entry 9: entries 8 to 9 were removed (7 entries before it hold)\n');
  });

  it('names the checkpoint past a rewrite whose hashes were all recomputed', async () => {
    const edit = (seq: number) => async () => {
      const list = (await rows(f.db)).map((e) => (Number(e['seq']) === seq ? { ...e, actor: 'someone-else' } : e));
      await rewriteLog(f, rechain(list, seq));
    };
    const late = await tampered(f, edit(7));
    expect(late.code).toBe(1);
    expect(late.stdout).toBe('broken at entry 9: it is not the entry the checkpoint at entry 9 signed: entries 7 to 9 were rewritten after it was signed, their hashes recomputed (6 entries before it hold)\n');
    const early = await tampered(f, edit(3));
    expect(early.stdout).toMatch(/^broken at entry 6: it is not the entry the checkpoint at entry 6 signed: entries 1 to 6 were rewritten/);
    // The same verdict for scripts.
    const json = await tampered(f, edit(3), () => cli('audit', 'verify', '--json', '--data-dir', f.dir));
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, seq: 6, problem: 'checkpoint-mismatch', checkpoints: 2, keyId: f.auditKeyId });
  });

  it('refuses to sign a checkpoint over entries that do not chain onto the last one', async () => {
    const added = await tampered(
      f,
      async () => {
        const list = await rows(f.db);
        const edited = list.map((e) => (Number(e['seq']) === 9 ? { ...e, actor: 'someone-else' } : e));
        await rewriteLog(f, [...edited, forgedAfter(list[8]!, {})]);
        await f.db('audit_checkpoints').where({ seq: 9 }).delete();
      },
      () => cli('audit', 'checkpoint', '--data-dir', f.dir),
    );
    expect(added.code).toBe(1);
    expect(added.stderr).toBe('serial-vault: cannot sign a checkpoint at entry 10: entry 9: its content does not match its hash (it was edited); run "serial-vault audit verify" [ERR_AUDIT_CHAIN_BROKEN]\n');
  });
}
