import { Option } from '@commander-js/extra-typings';
import { openVault, type Vault } from '../../app.js';
import { createLogger } from '../../logging.js';
import { ConfigError, loadConfig, type ConfigInput } from '../../config.js';
import { VaultError } from '../../errors.js';
import { CliError } from '../io.js';

export const dataDirOption = () =>
  new Option('--data-dir <dir>', 'the vault data directory (config, database, SoftHSM2 token)').env('SERIAL_VAULT_DATA_DIR').default('./data');

/** Opens the vault of a data directory for one command, logging to stderr, and closes it after. */
export async function withVault<T>(dataDir: string, fn: (vault: Vault) => Promise<T>, overrides: Partial<ConfigInput> = {}): Promise<T> {
  let vault: Vault;
  try {
    const config = await loadConfig(dataDir, overrides);
    vault = await openVault(config, { logger: createLogger({ ...config, log: { level: 'warn' } }, 2) });
  } catch (e) {
    throw asCliError(e);
  }
  try {
    return await fn(vault);
  } catch (e) {
    throw asCliError(e);
  } finally {
    await vault.close();
  }
}

export function asCliError(e: unknown): unknown {
  if (e instanceof ConfigError) return new CliError(e.message, 2);
  // Every module's refusal, with its stable code.
  if (e instanceof VaultError) return new CliError(`${e.message} [${e.code}]`, 1);
  return e;
}
