import { Command } from '@commander-js/extra-typings';
import { isKeyStoreError } from '../../keystore/errors.js';
import { readPin, terminalPrompt } from '../../keystore/pin.js';
import { initToken } from '../../keystore/pkcs11/init-token.js';
import { findSoftHsmModule } from '../../keystore/pkcs11/module-path.js';
import { CliError, type CliIo } from '../io.js';
import { hsmOption, openKeyStore, softhsmConfOption } from './keystore-options.js';
import { useSoftHsmConfig } from '../../keystore/pkcs11/softhsm.js';

export function hsmCommand(io: CliIo): Command {
  const cmd = new Command('hsm').description('the PKCS#11 HSM that holds the keys');

  cmd
    .command('status')
    .description('check the module, the token and the login; exits 1 when the HSM is not usable')
    .addOption(hsmOption())
    .addOption(softhsmConfOption())
    .option('--json', 'print the status as JSON')
    .action(async (options) => {
      const store = await openKeyStore(options, { signers: 1 });
      try {
        const health = await store.health();
        const keys = health.ok ? await store.list() : [];
        if (options.json) {
          io.stdout(`${JSON.stringify({ ...health, module: store.module, keys: keys.length }, null, 2)}\n`);
        } else {
          io.stdout(
            [
              `module:     ${store.module}`,
              `token:      ${health.token ? `${health.token.label} (serial ${health.token.serial}, ${health.token.manufacturer} ${health.token.model})` : 'not present'}`,
              `logged in:  ${health.loggedIn ? 'yes' : 'no'}`,
              `signers:    ${health.signers}`,
              `keys:       ${keys.length}`,
              `status:     ${health.ok ? 'ok' : `NOT OK: ${health.problem ?? 'unknown problem'}`}`,
              '',
            ].join('\n'),
          );
        }
        if (!health.ok) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });

  cmd
    .command('init-token')
    .description('create a SoftHSM2 token (or check an existing one) with PINs read from files; idempotent')
    .requiredOption('--label <label>', 'token label, used to find the token (slots move)')
    .requiredOption('--pin-file <path>', 'file holding the user PIN (mode 600)')
    .requiredOption('--so-pin-file <path>', 'file holding the security officer PIN (mode 600)')
    .option('--module <path>', 'PKCS#11 module (default: SoftHSM2)')
    .addOption(softhsmConfOption())
    .action(async (options) => {
      useSoftHsmConfig(options.softhsmConf);
      const modulePath = options.module ?? findSoftHsmModule();
      if (!modulePath) throw new CliError('SoftHSM2 is not installed: run scripts/setup-system.sh, or give --module');
      try {
        const pin = await readPin(options.pinFile, terminalPrompt);
        const soPin = await readPin(options.soPinFile, terminalPrompt);
        const result = initToken({ modulePath, label: options.label, pin, soPin });
        io.stdout(
          result.created
            ? `created token "${options.label}" (serial ${result.serial})\n`
            : `token "${options.label}" already exists (serial ${result.serial}) and the PIN opens it\n`,
        );
      } catch (e) {
        if (isKeyStoreError(e)) throw new CliError(`${e.message} [${e.code}]`, 1);
        throw e;
      }
    });

  return cmd;
}
