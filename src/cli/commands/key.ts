import { Command } from '@commander-js/extra-typings';
import { isKeyStoreError } from '../../keystore/errors.js';
import type { KeyInfo } from '../../keystore/keystore.js';
import { CliError, type CliIo } from '../io.js';
import { hsmOption, openKeyStore, softhsmConfOption } from './keystore-options.js';

export function keyJson(k: KeyInfo): Record<string, unknown> {
  return { label: k.label, id: k.id, keyId: k.keyId, bits: k.bits, publicKey: k.publicKey.encoded };
}

function keyText(k: KeyInfo): string {
  return [
    `label:       ${k.label}`,
    `id:          ${k.id}`,
    `key id:      ${k.keyId}`,
    `bits:        ${k.bits}`,
    'public key:',
    ...k.publicKey.encoded.split('\n').map((l) => `  ${l}`),
    '',
  ].join('\n');
}

async function withStore<T>(options: { hsm?: string | undefined; softhsmConf?: string | undefined }, fn: (s: Awaited<ReturnType<typeof openKeyStore>>) => Promise<T>): Promise<T> {
  const store = await openKeyStore(options, { signers: 1 });
  try {
    return await fn(store);
  } catch (e) {
    if (isKeyStoreError(e)) throw new CliError(`${e.message} [${e.code}]`, 1);
    throw e;
  } finally {
    await store.close();
  }
}

export function keyCommand(io: CliIo): Command {
  const cmd = new Command('key').description('signing keys in the HSM (private keys never leave it)');

  cmd
    .command('generate')
    .description('generate an RSA-4096 key pair on the token and print its snapd key id and public key')
    .argument('<label>', 'the key label (CKA_LABEL), e.g. brand-2026')
    .addOption(hsmOption())
    .addOption(softhsmConfOption())
    .option('--json', 'print the key as JSON')
    .action(async (label, options) => {
      await withStore(options, async (store) => {
        io.stderr(`generating an RSA-4096 key "${label}" in the HSM (this can take a while)…\n`);
        const key = await store.generate(label);
        io.stdout(options.json ? `${JSON.stringify(keyJson(key), null, 2)}\n` : keyText(key));
      });
    });

  cmd
    .command('list')
    .description('list the key pairs on the token')
    .addOption(hsmOption())
    .addOption(softhsmConfOption())
    .option('--json', 'print the keys as JSON')
    .action(async (options) => {
      await withStore(options, async (store) => {
        const keys = await store.list();
        if (options.json) io.stdout(`${JSON.stringify(keys.map(keyJson), null, 2)}\n`);
        else if (keys.length === 0) io.stdout('no keys on the token\n');
        else io.stdout(`${keys.map((k) => `${k.label.padEnd(24)} ${k.keyId}  RSA-${k.bits}`).join('\n')}\n`);
      });
    });

  cmd
    .command('show')
    .description('print one key: label, id, snapd key id and encoded public key')
    .argument('<ref>', 'a label or a PKCS#11 URI with object= or id=')
    .addOption(hsmOption())
    .addOption(softhsmConfOption())
    .option('--json', 'print the key as JSON')
    .action(async (ref, options) => {
      await withStore(options, async (store) => {
        const key = await store.find(ref);
        if (!key) throw new CliError(`no key ${JSON.stringify(ref)} on the token [ERR_KEY_NOT_FOUND]`, 1);
        io.stdout(options.json ? `${JSON.stringify(keyJson(key), null, 2)}\n` : keyText(key));
      });
    });

  return cmd;
}
