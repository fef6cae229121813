import { join } from 'node:path';
import { Command, Option } from '@commander-js/extra-typings';
import { encodeStream } from '../../assertions/index.js';
import { openVault, type Vault } from '../../app.js';
import { runVault } from '../../main.js';
import { CONFIG_FILE, loadConfig, maskedConfig, storePublicUrl, type ConfigInput } from '../../config.js';
import { createDemo } from '../../setup/demo.js';
import { TOKEN_LABEL, initDataDir } from '../../setup/data-dir.js';
import { CliError, type CliIo } from '../io.js';
import { asCliError, dataDirOption, withVault } from './vault-options.js';

export function vaultCommands(io: CliIo): Command[] {
  const init = new Command('init')
    .description('set up a data directory on the embedded defaults: SoftHSM2 token (random PINs in files), SQLite database, config')
    .addOption(dataDirOption())
    .option('--demo', 'also create a demo root, brand, model and API key, and print how to register a device')
    .addOption(new Option('--port <port>', 'device API port (default 8080)').argParser((v) => Number(v)))
    .addOption(new Option('--admin-port <port>', 'admin listener port: metrics, health (default 8081; 0 picks a free one)').argParser((v) => Number(v)))
    .addOption(new Option('--store-port <port>', 'store listener port, what snapd on devices talks to (default 8082; 0 picks a free one)').argParser((v) => Number(v)))
    .addOption(new Option('--sync-port <port>', 'sync listener port, what appliances of this central instance call (default 8083; 0 picks a free one)').argParser((v) => Number(v)))
    .option('--database <url>', 'a PostgreSQL connection URL instead of SQLite')
    .action(async (options) => {
      const { dir, created } = await initDataDir(options.dataDir, {
        ...(options.syncPort !== undefined ? { syncPort: options.syncPort } : {}),
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(options.adminPort !== undefined ? { adminPort: options.adminPort } : {}),
        ...(options.storePort !== undefined ? { storePort: options.storePort } : {}),
        ...(options.database ? { database: options.database } : {}),
      });
      io.stderr(`${created ? 'initialised' : 'using'} vault data in ${dir}\n`);
      io.stdout(
        [
          `config:    ${join(dir, CONFIG_FILE)}`,
          `database:  ${options.database ? 'PostgreSQL' : join(dir, 'vault.db')}`,
          `HSM:       SoftHSM2 token "${TOKEN_LABEL}" in ${join(dir, 'tokens')} (PINs in ${join(dir, 'secrets')}, mode 600)`,
          '',
        ].join('\n'),
      );
      if (!options.demo) return;
      await withVault(dir, async (vault) => {
        io.stderr('creating the demo root, brand and model (RSA-4096 keys in the HSM; this takes a few seconds)…\n');
        const demo = await createDemo(vault);
        const url = `http://${vault.config.device.host}:${vault.config.device.port}${vault.config.device.basePath}`;
        io.stdout(
          [
            `demo brand "demo-brand", model "demo-model" (serials DEMO-000001, DEMO-000002, …)${demo.created ? '' : ' (already there)'}`,
            `  model assertion: ${demo.model}`,
            `  trusted root:    ${demo.trusted}`,
            '                   a local root made for this demo: real devices only trust Canonical\'s',
            `  API key:         ${demo.apiKey} (mode 600)`,
            '',
            'start the vault:',
            `  serial-vault serve --data-dir ${dir}`,
            'register a demo device against it:',
            `  serial-vault device register --url ${url} --api-key-file ${demo.apiKey} --model-assertion ${demo.model} --trusted ${demo.trusted} --save-key device.key --out device.serial`,
            `then install a snap the demo store offers (publish one with "serial-vault snap register/upload/release --store demo-brand"):`,
            `  serial-vault device install NAME --store-url ${storePublicUrl(vault.config)} --serial-assertion device.serial --device-key device.key --model-assertion ${demo.model} --trusted ${demo.trusted} --dir device`,
            '',
          ].join('\n'),
        );
      });
    });

  const serve = new Command('serve')
    .description('run the vault: the device API (request-id, serial), the store devices install from (sessions, snap actions, assertions, downloads) and the admin API (sign-in, stores, roles, tokens, metrics), each on its own listener; central also serves its appliances (sync listener), and an appliance follows its central')
    .addOption(dataDirOption())
    .addOption(new Option('--port <port>', 'device API port (overrides the config)').argParser((v) => Number(v)))
    .option('--host <host>', 'device API address (overrides the config)')
    .addOption(new Option('--store-port <port>', 'store listener port, what snapd on devices talks to (overrides store.port; default 8082)').argParser((v) => Number(v)))
    .option('--store-host <host>', 'store listener address (overrides store.host)')
    .addOption(new Option('--sync-port <port>', 'sync listener port for appliances (overrides sync.port; central only)').argParser((v) => Number(v)))
    .action(async (options) => {
      let vault: Vault;
      try {
        const config = await loadConfig(options.dataDir, {
          ...(options.syncPort !== undefined ? { sync: { port: options.syncPort } as ConfigInput['sync'] } : {}),
          device: { ...(options.port !== undefined ? { port: options.port } : {}), ...(options.host ? { host: options.host } : {}) } as ConfigInput['device'],
          store: { ...(options.storePort !== undefined ? { port: options.storePort } : {}), ...(options.storeHost ? { host: options.storeHost } : {}) } as ConfigInput['store'],
        });
        vault = await openVault(config);
      } catch (e) {
        throw asCliError(e);
      }
      try {
        await runVault(vault, (line) => io.stderr(`${line}\n`));
      } catch (e) {
        throw asCliError(e);
      }
    });

  const exportCmd = new Command('export').description('export public material');
  exportCmd
    .command('trusted')
    .description('print the trusted root account and account-key assertions (what devices and tests trust)')
    .addOption(dataDirOption())
    .action(async (options) => {
      await withVault(options.dataDir, async (vault) => {
        const trusted = await vault.custody.exportTrusted();
        if (trusted.length === 0) throw new CliError('no trusted roots in this vault: create one with "serial-vault authority create" or import Canonical\'s', 1);
        io.stdout(encodeStream(trusted).toString('utf8'));
      });
    });

  const config = new Command('config').description('the vault configuration: DATA_DIR/config.json and SERIAL_VAULT_* variables');
  config
    .command('check')
    .description('validate the configuration; lists every problem and exits 2 if there is one')
    .addOption(dataDirOption())
    .action(async (options) => {
      try {
        await loadConfig(options.dataDir);
      } catch (e) {
        throw asCliError(e);
      }
      io.stdout('configuration ok\n');
    });
  config
    .command('show')
    .description('print the effective configuration (file, then environment), with passwords masked')
    .addOption(dataDirOption())
    .action(async (options) => {
      try {
        io.stdout(`${JSON.stringify(maskedConfig(await loadConfig(options.dataDir)), null, 2)}\n`);
      } catch (e) {
        throw asCliError(e);
      }
    });

  return [init, serve, exportCmd, config];
}
