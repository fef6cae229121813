import { readFile } from 'node:fs/promises';
import { Option, type Command, type OptionValues } from '@commander-js/extra-typings';
import { CliError } from '../io.js';
import { dataDirOption } from './vault-options.js';

/** Where a command acts: a local data directory (as the operator), or a vault's admin API with an access token. */
export interface Target {
  dataDir: string;
  url?: string;
  tokenFile?: string;
  json?: boolean;
}

export const targetOptions = <Args extends unknown[], Opts extends OptionValues, Globals extends OptionValues>(cmd: Command<Args, Opts, Globals>) =>
  cmd
    .addOption(dataDirOption())
    .addOption(new Option('--url <url>', "act through a vault's admin API instead of a local data directory, e.g. http://127.0.0.1:8081/").env('SERIAL_VAULT_URL'))
    .addOption(new Option('--token-file <file>', 'with --url: a file holding your access token (or set SERIAL_VAULT_TOKEN; never on the command line)'))
    .option('--json', 'print JSON, for scripts');

/** The access token for --url: from --token-file, or SERIAL_VAULT_TOKEN. */
export async function readToken(o: Target): Promise<string> {
  const token = o.tokenFile ? (await readFile(o.tokenFile, 'utf8').catch((e: Error) => Promise.reject(new CliError(`cannot read ${o.tokenFile}: ${e.message}`)))).trim() : process.env['SERIAL_VAULT_TOKEN'];
  if (!token) throw new CliError('with --url, give your access token: --token-file FILE or SERIAL_VAULT_TOKEN');
  return token;
}
