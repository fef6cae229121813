import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Readable } from 'node:stream';
import { Command, InvalidArgumentError, Option, type OptionValues } from '@commander-js/extra-typings';
import type { Vault } from '../../app.js';
import type { AllowListFormat, AllowLists, ImportProgress } from '../../provisioning/allowlists.js';
import { ProvisioningError } from '../../provisioning/errors.js';
import type { StationRecord } from '../../provisioning/stations.js';
import { CliError, type CliIo } from '../io.js';
import { dataDirOption, withVault } from './vault-options.js';
import { readToken } from './target.js';
import { adminCliError } from '../admin-client.js';
import { uploadAllowList } from '../allowlist-upload.js';

const FORMATS: Record<string, AllowListFormat> = { '.csv': 'csv', '.json': 'json', '.jsonl': 'json', '.ndjson': 'json' };
/** A log gets a line this often; a terminal gets its bar redrawn at most every REDRAW_MS. */
const LOG_EVERY = 100_000;
const REDRAW_MS = 100;
const BAR = 24;

/** A page of `show`: what one read of the list gives at most. */
const MAX_LIMIT = 10_000;
const pageSize = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_LIMIT) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_LIMIT}.`);
  return Number(value);
};
const mb = (n: number) => (n / 1e6).toFixed(1);

/** The vault's allow-lists (the provisioning service holds them once wired; a command may make its own meanwhile). */
const allowListsOf = (vault: Vault): AllowLists => vault.provisioning.allowLists;

async function stationOf(vault: Vault, brand: string, name: string): Promise<StationRecord> {
  const station = await vault.provisioning.stations.byName(brand, name);
  if (!station) throw new ProvisioningError('ERR_STATION_UNKNOWN', `brand ${brand} has no station named ${name}: serial-vault station list --brand ${brand} shows its stations`);
  return station;
}

function formatOf(file: string, given: AllowListFormat | undefined): AllowListFormat {
  const format = given ?? FORMATS[extname(file).toLowerCase()];
  if (!format) throw new CliError(`cannot tell the format of ${file} from its name: give --format csv or --format json`);
  return format;
}

/** Where an import is, on stderr: a bar redrawn in place on a terminal, a plain line every 100,000 lines in a log. */
function progressReporter(io: CliIo, name: string, totalBytes: number | undefined) {
  const started = performance.now();
  let drawn = 0;
  let logged = 0;
  let last: ImportProgress = { lines: 0 };
  const draw = () => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(last.lines / seconds) : 0;
    const share = totalBytes && last.bytes !== undefined ? Math.min(1, last.bytes / totalBytes) : undefined;
    const bar = share === undefined ? '' : `[${'#'.repeat(Math.round(share * BAR)).padEnd(BAR, '.')}] ${String(Math.floor(share * 100)).padStart(3)}%  `;
    const size = last.bytes === undefined ? '' : `  ${mb(last.bytes)}${totalBytes ? ` of ${mb(totalBytes)}` : ''} MB`;
    io.stderr(`\r\x1b[K${name} ${bar}${last.lines} lines${size}  ${rate} lines/s`);
  };
  return {
    update(p: ImportProgress): void {
      last = p;
      if (io.stderrIsTerminal) {
        if (performance.now() - drawn < REDRAW_MS) return;
        drawn = performance.now();
        draw();
      } else if (Math.floor(p.lines / LOG_EVERY) > logged) {
        logged = Math.floor(p.lines / LOG_EVERY);
        io.stderr(`${name}: ${p.lines} lines read${p.bytes !== undefined ? `, ${mb(p.bytes)}${totalBytes ? ` of ${mb(totalBytes)}` : ''} MB` : ''}\n`);
      }
    },
    done(): void {
      if (!io.stderrIsTerminal || drawn === 0) return;
      draw();
      io.stderr('\n');
    },
  };
}

/** The file as a stream, with its size when it has one ("-": standard input). */
async function openFile(file: string): Promise<{ stream: Readable; size: number | undefined }> {
  if (file === '-') return { stream: process.stdin, size: undefined };
  const info = await stat(file).catch((e: Error) => Promise.reject(new CliError(`cannot read ${file}: ${e.message}`)));
  if (!info.isFile()) throw new CliError(`cannot read ${file}: not a file`);
  return { stream: createReadStream(file, { highWaterMark: 256 * 1024 }), size: info.size };
}

/**
 * Runs `work` with Ctrl-C and SIGTERM ending the file's stream: the import
 * then removes what it staged and nothing of the file is applied. A second
 * Ctrl-C ends the process at once, as usual.
 */
async function interruptible<T>(stream: Readable, work: () => Promise<T>): Promise<T> {
  const stop = () => stream.destroy(new CliError('interrupted: nothing of the file was imported', 130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await work();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

const stationOptions = <Args extends unknown[], Opts extends OptionValues>(cmd: Command<Args, Opts>) =>
  cmd.requiredOption('--station <name>', 'the factory line (station) whose list it is').requiredOption('--brand <account-id>', "the station's brand").addOption(dataDirOption());

export function allowlistCommand(io: CliIo): Command {
  const allowlist = new Command('allowlist').description("stations' serial allow-lists: with a station's --allowlist on, only the serials on its list are issued");

  stationOptions(
    allowlist
      .command('import')
      .description('add the serials of a CSV or JSON file to a station\'s list, streamed (millions of lines are fine); all of the file or, on any bad line, none of it; importing it again changes nothing')
      .argument('<file>', 'CSV (one serial a line, or a "serial" column named in a header), JSON (an array of serials or of {"serial": …} objects) or JSON Lines; "-" for standard input')
      .addOption(new Option('--format <format>', 'the file\'s format (default: from its extension: .csv, .json, .jsonl)').choices(['csv', 'json'] as const))
      .addOption(new Option('--url <url>', "stream the file to a vault's admin API instead of a local data directory").env('SERIAL_VAULT_URL'))
      .option('--token-file <file>', 'with --url: a file holding your access token (or set SERIAL_VAULT_TOKEN)'),
  ).action(async (file, o) => {
    const format = formatOf(file, o.format);
    const { stream, size } = await openFile(file);
    const name = file === '-' ? 'standard input' : basename(file);
    if (o.url) {
      const token = await readToken({ dataDir: o.dataDir, ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}) });
      const progress = progressReporter(io, `uploading ${name}`, size);
      try {
        const jsonLines = ['.jsonl', '.ndjson'].includes(extname(file).toLowerCase());
        const r = await uploadAllowList({ url: o.url, token, brand: o.brand, station: o.station, format, jsonLines }, stream, (p) => progress.update(p)).catch((e: unknown) => Promise.reject(adminCliError(e)));
        progress.done();
        io.stdout(`read ${r.read} serials, added ${r.added}, already listed ${r.unchanged}\n`);
      } catch (e) {
        progress.done();
        throw e;
      }
      return;
    }
    await withVault(o.dataDir, async (vault) => {
      const station = await stationOf(vault, o.brand, o.station);
      const progress = progressReporter(io, `importing ${name}`, size);
      try {
        const r = await interruptible(stream, () => allowListsOf(vault).import(station, stream, { format, source: name, onProgress: (p) => progress.update(p) }));
        progress.done();
        io.stdout(`read ${r.read} serials, added ${r.added}, already listed ${r.unchanged}\n`);
      } catch (e) {
        progress.done();
        throw e;
      }
      if (!station.allowlist) io.stderr(`note: station ${station.name} does not check its allow-list yet: serial-vault station update ${station.name} --brand ${station.brandId} --allowlist turns the check on\n`);
    });
  });

  stationOptions(
    allowlist
      .command('show')
      .description("how many serials a station's list holds, and a page of them (in the database's order)")
      .option('--limit <n>', `how many serials to print (at most ${MAX_LIMIT})`, pageSize, 20)
      .option('--after <serial>', 'start after this serial (the last one a previous page printed)')
      .option('--json', 'print JSON, for scripts'),
  ).action(async (o) => {
    await withVault(o.dataDir, async (vault) => {
      const station = await stationOf(vault, o.brand, o.station);
      const lists = allowListsOf(vault);
      const total = await lists.count(station);
      const serials = await lists.page(station, { limit: o.limit, ...(o.after !== undefined ? { after: o.after } : {}) });
      const next = serials.length === o.limit ? (serials[serials.length - 1] ?? null) : null;
      if (o.json) {
        io.stdout(`${JSON.stringify({ brand: station.brandId, station: station.name, checked: station.allowlist, count: total, serials, next }, null, 2)}\n`);
        return;
      }
      const checked = station.allowlist ? 'only these serials are issued' : `not checked (serial-vault station update ${station.name} --brand ${station.brandId} --allowlist turns the check on)`;
      io.stdout(`station ${station.brandId}/${station.name}: ${total} serial${total === 1 ? '' : 's'} on its allow-list; ${checked}\n`);
      for (const s of serials) io.stdout(`${s}\n`);
      if (next !== null) io.stdout(`… more with --after ${JSON.stringify(next)}\n`);
    });
  });

  return allowlist;
}
