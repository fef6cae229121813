import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Command } from '@commander-js/extra-typings';
import { decodeStream, encodeStream } from '../../assertions/index.js';
import { DeviceRegistrationError, registerDevice } from '../device-client.js';
import { CliError, type CliIo } from '../io.js';

export function deviceCommand(io: CliIo): Command {
  const device = new Command('device').description('act as a device (snapd), for factory tests and demos');
  device
    .command('register')
    .description('register like snapd at first boot: own RSA-4096 key, request-id, serial-request plus model, checks on the answer')
    .requiredOption('--url <url>', "the gadget's device-service.url, e.g. http://127.0.0.1:8080/v1/")
    .option('--api-key <key>', 'the api-key header (prefer --api-key-file: command lines are visible to other users)')
    .option('--api-key-file <file>', 'a file holding the api-key header')
    .requiredOption('--model-assertion <file>', 'the model assertion the device is built from')
    .requiredOption('--trusted <file>', 'the trusted root(s) to verify the answer with (serial-vault export trusted)')
    .option('--serial <serial>', 'the proposed serial (registration.proposed-serial)')
    .option('--body <text>', 'hardware details for the serial-request body (registration.body)')
    .option('--device-key <pem>', 'use this device key instead of generating one')
    .option('--save-key <pem>', 'write the generated device key here (mode 600)')
    .option('--out <file>', 'write the answer (serial and chain) here instead of standard output')
    .action(async (options) => {
      const read = async (path: string) =>
        io.readFile(path).catch((e: Error) => {
          throw new CliError(`cannot read ${path}: ${e.message}`);
        });
      let apiKey = options.apiKey;
      if (options.apiKeyFile) apiKey = (await read(options.apiKeyFile)).toString('utf8').trim();
      const [model] = decodeStream(await read(options.modelAssertion));
      if (!model) throw new CliError(`${options.modelAssertion} holds no assertion`);
      const trusted = decodeStream(await read(options.trusted));
      const deviceKey = options.deviceKey ? createPrivateKey(await read(options.deviceKey)) : undefined;
      if (!deviceKey) io.stderr('generating an RSA-4096 device key…\n');
      try {
        const result = await registerDevice({
          url: options.url,
          headers: apiKey ? { 'api-key': apiKey } : {},
          model,
          trusted,
          ...(options.serial ? { proposedSerial: options.serial } : {}),
          ...(options.body ? { body: options.body } : {}),
          ...(deviceKey ? { deviceKey } : {}),
        });
        if (options.saveKey) await writeFile(options.saveKey, result.deviceKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
        const text = encodeStream(result.stream);
        if (options.out) await writeFile(options.out, text);
        else io.stdout(text.toString('utf8'));
        const v = result.serial.is('serial') ? result.serial.view : undefined;
        io.stderr(`registered: serial ${v?.serial ?? '?'} of ${v?.brandId ?? '?'}/${v?.model ?? '?'}, verified against the trusted root\n`);
      } catch (e) {
        if (e instanceof DeviceRegistrationError) {
          throw new CliError(`${e.message}${e.kind === 'retry' ? ' (snapd would retry in a minute with a new request-id)' : ''}`, e.kind === 'retry' ? 3 : 1);
        }
        throw e;
      }
    });
  return device;
}
