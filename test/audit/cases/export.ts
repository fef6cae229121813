import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { cli, type CliResult } from '../../support/cli.js';
import { forgedAfter, rechain, rows, signWithAnotherKey, type AuditFixture } from '../fixture.js';

type Line = Record<string, unknown>;

/** `audit export` and `audit verify --file`: a clean export verifies offline, and each tampering is named as on the database. */
export function exportCases(f: AuditFixture): void {
  let file: string;
  let lines: Line[];
  const parse = (text: string) => text.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
  const entries = () => lines.filter((l) => l['type'] === 'entry');
  const checkpoints = () => lines.filter((l) => l['type'] === 'checkpoint');
  /** Writes the export changed by `edit` to a new file and verifies it. */
  const tamperedFile = (edit: (copy: Line[]) => Line[], ...args: string[]): Promise<CliResult> => {
    const changed = join(f.dir, `tampered-${Math.random().toString(36).slice(2)}.jsonl`);
    writeFileSync(changed, edit(structuredClone(lines)).map((l) => `${JSON.stringify(l)}\n`).join(''));
    return cli('audit', 'verify', '--file', changed, ...args);
  };
  const withEntries = (copy: Line[], list: Line[]) => [copy[0]!, ...list, ...copy.filter((l) => l['type'] === 'checkpoint')];

  beforeAll(async () => {
    file = join(f.dir, 'audit.jsonl');
    const r = await cli('audit', 'export', '--out', file, '--data-dir', f.dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`exported 9 entries and 2 checkpoints to ${file}; audit key ${f.auditKeyId}\n`);
    lines = parse(readFileSync(file, 'utf8'));
  });

  it('exports a header with the audit key, every entry exactly as stored, then the checkpoints', async () => {
    expect(lines[0]).toMatchObject({ type: 'header', format: 'serial-vault audit export', version: 1, head: { seq: 9 }, auditKey: { keyId: f.auditKeyId } });
    expect(lines.map((l) => l['type'])).toEqual(['header', ...Array(9).fill('entry'), 'checkpoint', 'checkpoint']);
    const stored = (await rows(f.db)).map(({ id: _id, ...r }) => ({ type: 'entry', ...r }));
    expect(entries()).toEqual(stored);
    expect(checkpoints().map((c) => c['seq'])).toEqual([6, 9]);
    const streamed = await cli('audit', 'export', '--data-dir', f.dir);
    expect(parse(streamed.stdout).slice(1)).toEqual(lines.slice(1));
  });

  it('verifies a clean export offline, saying which key it trusted and whether it was pinned', async () => {
    const loose = await cli('audit', 'verify', '--file', file);
    expect(loose.code).toBe(0);
    expect(loose.stdout).toMatch(new RegExp(`^ok: 9 entries, the chain holds \\(head [0-9a-f]{64}\\)\\n2 checkpoints signed by audit key ${f.auditKeyId}, the last at entry 9\\naudit key ${f.auditKeyId} taken from the file, not pinned: `));
    const pinned = await cli('audit', 'verify', '--file', file, '--key-id', f.auditKeyId);
    expect(pinned.code).toBe(0);
    expect(pinned.stdout).toContain(`audit key ${f.auditKeyId}: the one pinned with --key-id\n`);
    expect(JSON.parse((await cli('audit', 'verify', '--file', file, '--json')).stdout)).toMatchObject({ ok: true, entries: 9, checkpoints: 2, signedUpTo: 9, keyId: f.auditKeyId, pinned: false });
  });

  it('names an edited, a deleted, a moved, a slipped-in and a cut-off entry in an export', async () => {
    const edited = await tamperedFile((c) => c.map((l) => (l['seq'] === 3 && l['type'] === 'entry' ? { ...l, actor: 'someone-else' } : l)));
    expect(edited.code).toBe(1);
    expect(edited.stdout).toMatch(/^broken at entry 3: its content does not match its hash \(it was edited\) \(2 entries before it hold\)\n/);
    expect((await tamperedFile((c) => c.filter((l) => !(l['type'] === 'entry' && l['seq'] === 2)))).stdout).toMatch(/^broken at entry 2: entry 2 is missing \(the next one is 3\)/);
    const moved = await tamperedFile((c) => withEntries(c, entries().map((l) => (l['seq'] === 3 ? { ...l, seq: 4 } : l['seq'] === 4 ? { ...l, seq: 3 } : l)).sort((a, b) => Number(a['seq']) - Number(b['seq']))));
    expect(moved.stdout).toMatch(/^broken at entry 3: its link to the previous entry does not match/);
    const slipped = await tamperedFile((c) => withEntries(c, [...entries().slice(0, 4), forgedAfter(entries()[3]!, { target_id: 'forged' }), ...entries().slice(4).map((l) => ({ ...l, seq: Number(l['seq']) + 1 }))]));
    expect(slipped.stdout).toMatch(/^broken at entry 5: it was slipped in: entry 6 links to entry 4/);
    expect((await tamperedFile((c) => withEntries(c, entries().slice(0, 8)))).stdout).toMatch(/^broken at entry 9: the log ends at entry 8, but 9 entries were written/);
    const cut = await tamperedFile((c) => {
      const kept = entries().slice(0, 7);
      return withEntries([{ ...c[0]!, head: { seq: 7, hash: kept[6]!['hash'] } }, ...c.slice(1)], kept);
    });
    expect(cut.code).toBe(1);
    expect(cut.stdout).toMatch(/^broken at entry 8: the log ends at entry 7, but a checkpoint was signed at entry 9: entries 8 to 9 were removed/);
    const rewritten = await tamperedFile((c) => {
      const list = rechain(entries().map((l) => (l['seq'] === 7 ? { ...l, actor: 'someone-else' } : l)), 7);
      return withEntries([{ ...c[0]!, head: { seq: 9, hash: list[8]!['hash'] } }, ...c.slice(1)], list);
    });
    expect(rewritten.stdout).toMatch(/^broken at entry 9: it is not the entry the checkpoint at entry 9 signed: entries 7 to 9 were rewritten/);
  });

  it('names a forged checkpoint in an export: signature edited, re-signed with another HSM key, moved to another head', async () => {
    const nine = checkpoints()[1]!;
    const sig = String(nine['signature']);
    const edit = (change: Line) => (c: Line[]) => c.map((l) => (l['type'] === 'checkpoint' && l['seq'] === 9 ? { ...l, ...change } : l));
    const bad = await tamperedFile(edit({ signature: `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}` }));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`^forged checkpoint at entry 9: its signature does not verify with the audit key ${f.auditKeyId}\\n`));
    const other = await signWithAnotherKey(f, { seq: 9, hash: String(nine['hash']), at: String(nine['at']) });
    expect((await tamperedFile(edit({ key_id: other.keyId, signature: other.signature }))).stdout).toMatch(new RegExp(`^forged checkpoint at entry 9: it names key "${other.keyId}", not the audit key`));
    const eight = entries()[7]!;
    expect((await tamperedFile(edit({ seq: 8, hash: eight['hash'] }))).stdout).toMatch(/^forged checkpoint at entry 8: its signature does not verify/);

    // Every checkpoint re-signed and the header's key swapped: it holds with that key, so only pinning tells.
    const swapped = async (c: Line[]) => {
      const resigned = await Promise.all(checkpoints().map(async (k) => ({ ...k, key_id: other.keyId, signature: (await signWithAnotherKey(f, { seq: Number(k['seq']), hash: String(k['hash']), at: String(k['at']) })).signature })));
      return [{ ...c[0]!, auditKey: { keyId: other.keyId, publicKey: other.publicKey } }, ...entries(), ...resigned];
    };
    const resigned = await swapped(structuredClone(lines));
    const loose = await tamperedFile(() => resigned);
    expect(loose.code).toBe(0);
    expect(loose.stdout).toContain(`audit key ${other.keyId} taken from the file, not pinned`);
    const pinned = await tamperedFile(() => resigned, '--key-id', f.auditKeyId);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toBe(`serial-vault: the export is signed with audit key ${other.keyId}, not the pinned ${f.auditKeyId} [ERR_AUDIT_KEY_UNTRUSTED]\n`);
    // A header naming the pinned id over another key is refused too: the id is computed, not read.
    const claimed = await tamperedFile(() => [{ ...resigned[0]!, auditKey: { keyId: f.auditKeyId, publicKey: other.publicKey } }, ...resigned.slice(1)], '--key-id', f.auditKeyId);
    expect(claimed.code).toBe(1);
    expect(claimed.stderr).toBe(`serial-vault: line 1 of the export: the audit key in the header has id ${other.keyId}, not the ${f.auditKeyId} it names [ERR_AUDIT_EXPORT_INVALID]\n`);
  });

  it('refuses a file that is not an export, naming the line', async () => {
    const notJson = join(f.dir, 'broken.jsonl');
    writeFileSync(notJson, `${JSON.stringify(lines[0])}\n${JSON.stringify(lines[1])}\n{not json\n`);
    expect((await cli('audit', 'verify', '--file', notJson)).stderr).toBe('serial-vault: line 3 of the export: it is not JSON [ERR_AUDIT_EXPORT_INVALID]\n');
    const missing = await cli('audit', 'verify', '--file', join(f.dir, 'nothing-here.jsonl'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read ".*nothing-here\.jsonl": ENOENT \[ERR_AUDIT_EXPORT_UNREADABLE\]/);
  });
}
