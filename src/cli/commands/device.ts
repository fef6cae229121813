import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Command, Option, type OptionValues } from '@commander-js/extra-typings';
import { decodeStream, encodeStream } from '../../assertions/index.js';
import { DeviceRegistrationError, registerDevice } from '../device-client.js';
import { installSnap, readState, refreshSnaps, writeState, type Installed } from '../device-install.js';
import { StoreClient, StoreClientError } from '../store-client.js';
import { CliError, type CliIo } from '../io.js';

/** What the device-side store client needs to act as a registered device: the same on install and refresh. */
function withStoreClientOptions<Args extends unknown[], Opts extends OptionValues>(c: Command<Args, Opts>) {
  return c
    .requiredOption('--store-url <url>', "the store base URL, as SNAPPY_FORCE_API_URL would be (the vault's store listener, e.g. http://127.0.0.1:8082/)")
    .requiredOption('--serial-assertion <file>', "the device's serial (device register --out writes it, with its chain)")
    .requiredOption('--model-assertion <file>', 'the model assertion the device is built from')
    .requiredOption('--device-key <pem>', 'the device key the serial was issued for (device register --save-key)')
    .requiredOption('--trusted <file>', 'the trusted root(s) the device checks assertions with (serial-vault export trusted)')
    .requiredOption('--dir <dir>', 'where the device keeps snaps, their assertions and its state (session, what is installed)')
    .option('--verbose', 'print every HTTP exchange with the store to standard error');
}

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
  async function client(options: { storeUrl: string; serialAssertion: string; modelAssertion: string; deviceKey: string; trusted: string; dir: string; verbose?: boolean }) {
    const read = (path: string) =>
      io.readFile(path).catch((e: Error) => {
        throw new CliError(`cannot read ${path}: ${e.message}`);
      });
    const serial = decodeStream(await read(options.serialAssertion)).find((a) => a.is('serial'));
    if (!serial) throw new CliError(`${options.serialAssertion} holds no serial assertion`);
    const [model] = decodeStream(await read(options.modelAssertion));
    if (!model?.is('model')) throw new CliError(`${options.modelAssertion} holds no model assertion`);
    const trusted = decodeStream(await read(options.trusted));
    const state = await readState(options.dir);
    const c = new StoreClient({
      storeUrl: options.storeUrl,
      model,
      serial,
      deviceKey: createPrivateKey(await read(options.deviceKey)),
      ...(state.session ? { session: state.session } : {}),
      onSession: (token) => (state.session = token),
      ...(options.verbose ? { onExchange: (e) => io.stderr(`${e.method} ${e.url} -> ${e.status}${e.headers['www-authenticate'] ? ` (WWW-Authenticate: ${e.headers['www-authenticate']})` : ''}\n`) } : {}),
    });
    return { c, model, trusted, state };
  }

  const report = (i: Installed, what: string) => io.stdout(`${i.name} ${what} revision ${i.revision}${i.channel ? ` from ${i.channel}` : ''}: ${i.file}, ${i.assertions.length} assertions checked\n`);
  const storeFailure = (e: unknown) => (e instanceof StoreClientError ? new CliError(e.message, 1) : e);

  withStoreClientOptions(
    device
      .command('install')
      .description('install a snap from the store as snapd does: session, install action, download (resumed), digest and assertions checked against the trusted roots')
      .argument('<name>', 'the snap')
      .option('--channel <channel>', 'the channel to install from (default stable)')
      .addOption(new Option('--revision <n>', 'a revision instead of a channel').argParser((v) => Number(v))),
  ).action(async (name, options) => {
    const { c, model, trusted, state } = await client(options);
    try {
      const i = await installSnap(c, { name, dir: options.dir, model, trusted, ...(options.channel ? { channel: options.channel } : {}), ...(options.revision ? { revision: options.revision } : {}) });
      state.snaps[name] = { snapId: i.snapId, revision: i.revision, channel: i.channel || (options.channel ?? 'latest/stable'), type: '' };
      report(i, 'installed');
    } catch (e) {
      throw storeFailure(e);
    } finally {
      await writeState(options.dir, state);
    }
  });

  withStoreClientOptions(
    device
      .command('refresh')
      .description('refresh installed snaps as snapd does: one refresh action per snap with its tracking channel; an unchanged revision is no update')
      .argument('[names...]', 'the snaps (default: all installed)'),
  ).action(async (names, options) => {
    const { c, model, trusted, state } = await client(options);
    try {
      const { updated, current } = await refreshSnaps(c, state, { dir: options.dir, model, trusted, names });
      for (const i of updated) {
        const s = state.snaps[i.name];
        if (s) state.snaps[i.name] = { ...s, revision: i.revision };
        report(i, 'refreshed to');
      }
      for (const n of current) io.stdout(`${n} is up to date (revision ${state.snaps[n]?.revision})\n`);
      if (updated.length === 0 && current.length === 0) io.stdout('nothing installed to refresh\n');
    } catch (e) {
      throw storeFailure(e);
    } finally {
      await writeState(options.dir, state);
    }
  });
  return device;
}
