import { readFile } from 'node:fs/promises';
import { Option, type Command, type OptionValues } from '@commander-js/extra-typings';
import { CliError } from '../io.js';
import { asCliError, dataDirOption, withVault } from './vault-options.js';
import { OPERATOR, type Principal } from '../../accounts/principal.js';
import { adminCliError } from '../admin-client.js';
import type { Vault } from '../../app.js';

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

/**
 * Runs `fn` with the operations of the chosen side: the local data
 * directory (as the appliance's operator), or the admin API with the
 * caller's access token. Refusals from either side become one line with
 * their code (`asError`).
 */
export async function withTarget<Ops, T>(
  o: Target,
  sides: { local: (vault: Vault) => Ops; remote: (url: string, token: string) => Ops; asError: (e: unknown) => unknown },
  fn: (ops: Ops) => Promise<T>,
): Promise<T> {
  try {
    if (o.url) return await fn(sides.remote(o.url, await readToken(o)));
    return await withVault(o.dataDir, (vault) => fn(sides.local(vault)));
  } catch (e) {
    throw sides.asError(e);
  }
}

/**
 * Like `withTarget`, but locally as the person whose token is given (so
 * their roles are checked and their name is in the audit log), else as the
 * appliance's operator.
 */
export async function withPerson<Ops, T>(
  o: Target,
  sides: { local: (vault: Vault, principal: Principal) => Ops; remote: (url: string, token: string) => Ops },
  fn: (ops: Ops) => Promise<T>,
): Promise<T> {
  try {
    if (o.url) return await fn(sides.remote(o.url, await readToken(o)));
    const token = o.tokenFile || process.env['SERIAL_VAULT_TOKEN'] ? await readToken(o) : undefined;
    return await withVault(o.dataDir, async (vault) => {
      let principal: Principal = OPERATOR;
      if (token) {
        const person = await vault.accounts.authenticateToken(token);
        if (!person) throw new CliError('the access token is not valid (expired, revoked or mistyped): make a new one with serial-vault token create');
        principal = person;
      }
      return fn(sides.local(vault, principal));
    });
  } catch (e) {
    throw adminCliError(asCliError(e));
  }
}
