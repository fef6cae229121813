import { rename, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { OPERATOR } from '../../accounts/principal.js';
import { AuditError } from '../../audit/errors.js';
import { verifyExportFile } from '../../audit/export-verify.js';
import type { ExportChunk } from '../../audit/service.js';
import type { AuditVerdict } from '../../audit/verifier.js';
import type { Vault } from '../../app.js';
import { adminCliError } from '../admin-client.js';
import type { CliIo } from '../io.js';
import { asCliError, dataDirOption, withVault } from './vault-options.js';

const wholeNumber = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const span = (from: number, to: number) => (from === to ? `entry ${from} is` : `entries ${from} to ${to} are`);

/** What a verdict says, in words: what is wrong and at which entry, or what holds and what is signed. */
export function verdictText(v: AuditVerdict): string {
  if (!v.ok) {
    if (v.problem === 'checkpoint-forged') return `forged checkpoint at entry ${v.seq}: ${v.reason}\n`;
    return `broken at entry ${v.seq}: ${v.reason} (${plural(v.entries, 'entry', 'entries')} before it ${v.entries === 1 ? 'holds' : 'hold'})\n`;
  }
  const chain = `ok: ${v.entries} entries, the chain holds (head ${v.head})\n`;
  if (v.checkpoints === 0) return `${chain}no checkpoints yet: nothing is signed ("serial-vault audit checkpoint" signs the head now)\n`;
  const tail = v.entries > v.signedUpTo ? `; ${span(v.signedUpTo + 1, v.entries)} not signed yet` : '';
  return `${chain}${plural(v.checkpoints, 'checkpoint')} signed by audit key ${v.keyId}, the last at entry ${v.signedUpTo}${tail}\n`;
}

/** Which key an offline verification trusted, and how far to trust that. */
function trustText(keyId: string | null, pinned: boolean): string {
  if (!keyId) return 'the export names no audit key: nothing in it is signed\n';
  if (pinned) return `audit key ${keyId}: the one pinned with --key-id\n`;
  return `audit key ${keyId} taken from the file, not pinned: anyone can sign an export with a key of their own; compare it with what "serial-vault audit verify" prints on the vault, or pass --key-id\n`;
}

/** Export chunks as text, with progress on stderr once the log is long. */
async function* withProgress(io: CliIo, chunks: AsyncIterable<ExportChunk>, last: (c: ExportChunk) => void): AsyncGenerator<string> {
  const EVERY = io.stderrIsTerminal ? 10_000 : 100_000;
  let shown = 0;
  for await (const c of chunks) {
    last(c);
    if (c.of >= EVERY && c.entries - shown >= EVERY) {
      shown = c.entries;
      io.stderr(io.stderrIsTerminal ? `\rexporting the audit log: ${c.entries}/${c.of} entries` : `exporting the audit log: ${c.entries}/${c.of} entries\n`);
    }
    if (c.text) yield c.text;
  }
  if (shown > 0 && io.stderrIsTerminal) io.stderr('\n');
}

async function exportTo(io: CliIo, vault: Vault, out: string | undefined): Promise<ExportChunk | undefined> {
  let last: ExportChunk | undefined;
  const texts = withProgress(io, vault.audit.export(), (c) => (last = c));
  if (!out) {
    for await (const t of texts) io.stdout(t);
    return last;
  }
  // Written beside the target and renamed at the end: an interrupted export leaves no file that looks whole.
  const partial = `${out}.partial`;
  try {
    await pipeline(Readable.from(texts), createWriteStream(partial, { mode: 0o600 }));
    await rename(partial, out);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
  return last;
}

export function auditCommand(io: CliIo): Command {
  const out = (o: { json?: boolean }, value: unknown, text: () => string) => io.stdout(o.json ? `${JSON.stringify(value, null, 2)}\n` : text());
  const audit = new Command('audit').description('the audit log: who changed what, when, from where; hash-chained, with checkpoints signed in the HSM');

  audit
    .command('list')
    .description('print audit entries, newest first (on the appliance)')
    .option('--store <store>', 'only changes to this store and the stores below it')
    .option('--limit <n>', 'how many entries', wholeNumber, 50)
    .option('--json', 'print JSON, for scripts')
    .addOption(dataDirOption())
    .action(async (o) => {
      await withVault(o.dataDir, async (vault) => {
        try {
          const page = o.store ? await vault.accounts.audit(OPERATOR, o.store, { limit: o.limit }) : await vault.accounts.auditAll(OPERATOR, { limit: o.limit });
          out(o, page.items, () =>
            page.items
              .map((e) => `${e.at}  ${e.actor} (${e.via}${e.clientAddress ? ` from ${e.clientAddress}` : ''})  ${e.action} ${e.targetType} ${e.targetId}${e.storeId ? ` [${e.storeId}]` : ''}\n`)
              .join('') || 'no entries\n',
          );
        } catch (e) {
          throw adminCliError(e);
        }
      });
    });

  audit
    .command('checkpoint')
    .description('sign a checkpoint of the chain\'s head now with the audit key (HSM label vault-audit, made at the first checkpoint); serve signs them by itself (audit.checkpointEvery, audit.checkpointMinutes)')
    .option('--json', 'print JSON, for scripts')
    .addOption(dataDirOption())
    .action(async (o) => {
      await withVault(o.dataDir, async (vault) => {
        if (!(await vault.audit.auditKey())) io.stderr('making the audit key in the HSM (RSA-4096: a few seconds)\n');
        const { made, checkpoint: c } = await vault.audit.checkpoint();
        out(o, { made, checkpoint: c ?? null }, () =>
          !c ? 'the audit log is empty: nothing to sign\n' : made ? `signed entry ${c.seq} (hash ${c.hash}) with audit key ${c.keyId}\n` : `entry ${c.seq} is signed already (checkpoint of ${c.at}, audit key ${c.keyId})\n`,
        );
      });
    });

  audit
    .command('export')
    .description('write the audit log as JSON lines: a header with the audit key, every entry as stored, the checkpoints; "audit verify --file" checks it anywhere, with no database or HSM')
    .option('--out <file>', 'write to this file (default: standard output; use a file for long logs)')
    .addOption(dataDirOption())
    .addHelpText('after', '\nEntries after the last checkpoint are in the export but signed by nothing: run "serial-vault audit checkpoint" first to cover them.\n')
    .action(async (o) => {
      await withVault(o.dataDir, async (vault) => {
        const last = await exportTo(io, vault, o.out);
        if (!last) return;
        io.stderr(`exported ${plural(last.entries, 'entry', 'entries')} and ${plural(last.checkpoints, 'checkpoint')}${o.out ? ` to ${o.out}` : ''}; audit key ${last.keyId ?? 'none yet'}\n`);
        if (last.entries > last.signedUpTo) io.stderr(`${span(last.signedUpTo + 1, last.entries)} after the last checkpoint, signed by nothing: run "serial-vault audit checkpoint" before exporting\n`);
      });
    });

  audit
    .command('verify')
    .description("check the audit log: the hash chain and every checkpoint's signature; exits 1 and names the first entry edited, removed, added, moved or cut off, or the forged checkpoint")
    .option('--file <export>', 'verify an export ("audit export") instead, offline: no database, no HSM')
    .option('--key-id <id>', 'the audit key id to trust (as "audit verify" or "audit checkpoint" print it on the vault): refuse an export, or a vault, with another')
    .option('--json', 'print JSON, for scripts')
    .addOption(dataDirOption())
    .addHelpText('after', '\nOn the vault, checkpoints are checked against the audit key in the HSM (label vault-audit).\nWith --file they are checked against the key in the export\'s header; without --key-id the output says it was not pinned.\n')
    .action(async (o) => {
      if (o.file) {
        const file = o.file;
        const checked = await verifyExportFile(file, o.keyId !== undefined ? { keyId: o.keyId } : {}).catch((e: unknown) => {
          throw asCliError(e);
        });
        out(o, { ...checked.verdict, pinned: checked.pinned, exportedAt: checked.exportedAt }, () => `${verdictText(checked.verdict)}${trustText(checked.keyId, checked.pinned)}`);
        if (!checked.verdict.ok) process.exitCode = 1;
        return;
      }
      await withVault(o.dataDir, async (vault) => {
        const verdict = await vault.audit.verify();
        if (o.keyId !== undefined && verdict.keyId !== o.keyId) {
          throw new AuditError('ERR_AUDIT_KEY_UNTRUSTED', verdict.keyId ? `the vault's audit key is ${verdict.keyId}, not the pinned ${o.keyId}` : `the vault has no audit key yet, so nothing is signed by ${o.keyId}`);
        }
        out(o, verdict, () => verdictText(verdict));
        if (!verdict.ok) process.exitCode = 1;
      });
    });

  return audit;
}
