import { Command } from '@commander-js/extra-typings';
import { features, keyNames, parsePublicKeyRequest, parseSignRequest, publicKey, sign, type KeymgrKeys } from '../../custody/keymgr.js';
import { VaultKeymgrKeys, keymgrPrincipal } from '../../custody/keymgr-keys.js';
import type { CliIo } from '../io.js';
import { asCliError, dataDirOption, withVault } from './vault-options.js';

/** Where the protocol's answers go: raw bytes (a DER key, a signature), which CliIo's text output would mangle. */
export type ByteOutput = (bytes: Uint8Array) => void;

const processStdout: ByteOutput = (bytes) => void process.stdout.write(bytes);

/** Checks a request before the vault is opened, turning a refusal into the CLI's one-line error. */
function checked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw asCliError(e);
  }
}

/**
 * `serial-vault keymgr`: snapd's external key manager, for
 * `SNAPD_EXT_KEYMGR=serial-vault-keymgr snap sign -k brand-acme-serials`.
 * Standard output carries only the protocol's answers; everything else,
 * refusals included, goes to standard error.
 */
export function keymgrCommand(io: CliIo, out: ByteOutput = processStdout): Command {
  const cmd = new Command('keymgr').description(
    "snapd's external key manager: with SNAPD_EXT_KEYMGR=serial-vault-keymgr, `snap sign -k LABEL` signs with a brand key in the vault's HSM, each signature in the audit log (SERIAL_VAULT_TOKEN: sign as that person)",
  );

  /** Opens the vault and signs in whoever SERIAL_VAULT_TOKEN names (no token: the local operator). */
  const withKeys = (dataDir: string, fn: (keys: KeymgrKeys) => Promise<Uint8Array>) =>
    withVault(dataDir, async (vault) => {
      const principal = await keymgrPrincipal(vault.accounts, process.env['SERIAL_VAULT_TOKEN']?.trim());
      out(await fn(new VaultKeymgrKeys({ db: vault.db, custody: vault.custody, keystore: vault.keystore, accounts: vault.accounts }, principal)));
    });

  cmd
    .command('features')
    .description('print what this key manager offers, as JSON: RSA-PKCS signing, DER public keys')
    .action(() => out(features()));

  cmd
    .command('key-names')
    .description('print the names (HSM labels) of the brand keys you may sign with, as JSON')
    .addOption(dataDirOption())
    .action(async (options) => withKeys(options.dataDir, (keys) => keyNames(keys)));

  cmd
    .command('get-public-key')
    .description("print a key's public half as DER SubjectPublicKeyInfo (binary)")
    .requiredOption('-f, --format <format>', 'the public key format: DER')
    .requiredOption('-k, --key <name>', 'the key name (HSM label), as key-names lists it')
    .addOption(dataDirOption())
    .action(async (options) => {
      const request = checked(() => parsePublicKeyRequest(options));
      await withKeys(options.dataDir, (keys) => publicKey(keys, request));
    });

  cmd
    .command('sign')
    .description('sign DigestInfo(SHA-512) ‖ digest from standard input; print the RSA PKCS#1 v1.5 signature (binary)')
    .requiredOption('-m, --mechanism <mechanism>', 'the signing mechanism: RSA-PKCS')
    .requiredOption('-k, --key <name>', 'the key name (HSM label), as key-names lists it')
    .addOption(dataDirOption())
    .action(async (options) => {
      const input = await io.readFile('-');
      const request = checked(() => parseSignRequest(options, input));
      await withKeys(options.dataDir, (keys) => sign(keys, request));
    });

  return cmd;
}
