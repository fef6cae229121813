import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import type { Vault } from '../../app.js';
import { chainCheck, hardwareIdentityView, type ImportProgress } from '../../provisioning/hardware-identities.js';
import { CliError, type CliIo } from '../io.js';
import { dataDirOption, withVault } from './vault-options.js';

const brandOption = () => new Option('--brand <account-id>', 'the brand whose devices these are').makeOptionMandatory();
const collect = (value: string, previous: string[]) => [...previous, value];
const limitArg = (v: string): number => {
  if (!/^[1-9]\d*$/.test(v) || Number(v) > 1000) throw new InvalidArgumentError('expected a number from 1 to 1000.');
  return Number(v);
};
const idArg = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected an id (0, 1, 2, …).');
  return Number(v);
};
const thousands = (n: number) => n.toLocaleString('en-US');

/** The service the admin API uses too. */
const identitiesOf = (vault: Vault) => vault.provisioning.hardwareIdentities;

/** A bar redrawn in place on a terminal (every tenth of a second at most); on a log, a line every 10,000 identities. */
function progressPrinter(io: CliIo, total: number | undefined): { update: (p: ImportProgress) => void; done: () => void } {
  let lastDraw = 0;
  let lastLine = 0;
  let drawn = false;
  return {
    update(p) {
      if (io.stderrIsTerminal) {
        const now = Date.now();
        if (now - lastDraw < 100) return;
        lastDraw = now;
        drawn = true;
        const width = 30;
        const frac = total ? Math.min(p.bytes / total, 1) : 0;
        const bar = total ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width)}] ${Math.floor(frac * 100)}% ` : '';
        io.stderr(`\rchecking hardware identities ${bar}${thousands(p.read)} read`);
        return;
      }
      if (p.read - lastLine >= 10_000) {
        lastLine = p.read - (p.read % 10_000);
        io.stderr(`checked ${thousands(lastLine)} hardware identities\n`);
      }
    },
    done() {
      if (drawn) io.stderr('\n');
    },
  };
}

async function importFile(io: CliIo, vault: Vault, file: string, o: { brand: string; issuer: string[]; json?: boolean }): Promise<void> {
  if (!(await vault.custody.brands.byAccountId(o.brand))) throw new CliError(`brand "${o.brand}" is not set up in this vault: serial-vault brand list shows them`);
  const size = file === '-' ? undefined : (await stat(file).catch((e: Error) => Promise.reject(new CliError(`cannot read ${file}: ${e.message}`)))).size;
  const source = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1024 * 1024 });
  const progress = progressPrinter(io, size);
  try {
    const counts = await identitiesOf(vault).import(o.brand, source, { check: await chainCheck(vault.custody), issuers: o.issuer, onProgress: progress.update });
    progress.done();
    io.stdout(o.json ? `${JSON.stringify(counts, null, 2)}\n` : `read ${thousands(counts.read)}, added ${thousands(counts.added)}, unchanged ${thousands(counts.unchanged)}\n`);
  } catch (e) {
    progress.done();
    throw e;
  }
}

function identityLine(v: ReturnType<typeof hardwareIdentityView>): string {
  const bound = v.boundTo ? `onboarded ${v.boundTo.serial}${v.boundTo.model ? ` (${v.boundTo.model})` : ''} at ${v.boundTo.boundAt}` : 'not onboarded yet';
  return `${v.hardwareId}  ${v.hardwareName}  ${v.manufacturer}  issued by ${v.issuerId}  ${bound}\n  ${v.keyDigest}\n`;
}

export function hardwareIdentityCommand(io: CliIo): Command {
  const cmd = new Command('hardware-identity').description('hardware-identity assertions: devices that prove their hardware key get a serial without an API key (secure onboarding)');
  cmd
    .command('import')
    .description('import a file of hardware-identity assertions (100,000 or more), each issued by the brand or an --issuer and verified through its chain; a bad one anywhere imports nothing, and importing a file again changes nothing')
    .argument('<file>', 'the assertions, one after another ("-" for standard input)')
    .addOption(brandOption())
    .option('--issuer <account-id>', 'another account whose identities the brand accepts, e.g. its manufacturer (repeatable; its account-key must be in the vault)', collect, [] as string[])
    .option('--json', 'print JSON, for scripts')
    .addOption(dataDirOption())
    .action((file, o) => withVault(o.dataDir, (vault) => importFile(io, vault, file, o)));
  cmd
    .command('list')
    .description("a brand's hardware identities, in import order, with the device each onboarded")
    .addOption(brandOption())
    .option('--limit <n>', 'how many (at most 1000)', limitArg, 100)
    .option('--after <id>', 'continue after this id (the last "id" of the previous page, with --json)', idArg)
    .option('--json', 'print JSON, for scripts')
    .addOption(dataDirOption())
    .action((o) =>
      withVault(o.dataDir, async (vault) => {
        const identities = identitiesOf(vault);
        const items = (await identities.list(o.brand, { limit: o.limit, ...(o.after !== undefined ? { after: o.after } : {}) })).map(hardwareIdentityView);
        const total = await identities.count(o.brand);
        if (o.json) io.stdout(`${JSON.stringify({ items, total }, null, 2)}\n`);
        else io.stdout(items.length === 0 ? `brand "${o.brand}" has no hardware identities\n` : `${items.map(identityLine).join('')}${thousands(items.length)} of ${thousands(total)} shown\n`);
      }),
    );
  return cmd;
}
