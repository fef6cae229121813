import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from '@commander-js/extra-typings';
import { encodeStream } from '../../assertions/index.js';
import { OPERATOR } from '../../accounts/principal.js';
import { openVault, type Vault } from '../../app.js';
import { serveAdmin, serveDevices, type Listening } from '../../listeners.js';
import { reopenLog } from '../../logging.js';
import { CONFIG_FILE, loadConfig, maskedConfig, parseConfig, type ConfigInput } from '../../config.js';
import { initToken } from '../../keystore/pkcs11/init-token.js';
import { findSoftHsmModule } from '../../keystore/pkcs11/module-path.js';
import { CliError, type CliIo } from '../io.js';
import { asCliError, dataDirOption, withVault } from './vault-options.js';

const TOKEN_LABEL = 'serial-vault';
/** hsm/softhsm2.conf.template of the installed package, from the sources or from dist/. */
function templatePath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'hsm', 'softhsm2.conf.template');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new CliError('hsm/softhsm2.conf.template is missing from the installation');
    dir = parent;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function secretFile(path: string): Promise<void> {
  if (await exists(path)) return;
  await writeAtomically(path, `${randomBytes(18).toString('base64url')}\n`, 0o600);
}

/** Sets up the embedded defaults in a data directory: SoftHSM2 token, config, database. Idempotent. */
export async function initDataDir(dataDir: string, options: { port?: number; adminPort?: number; database?: string } = {}): Promise<{ dir: string; created: boolean }> {
  const dir = resolve(dataDir);
  await mkdir(join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  await mkdir(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const conf = join(dir, 'softhsm2.conf');
  if (!(await exists(conf))) {
    const template = await readFile(templatePath(), 'utf8');
    await writeAtomically(conf, template.replaceAll('@TOKEN_DIR@', join(dir, 'tokens')), 0o600);
  }
  await secretFile(join(dir, 'secrets', 'user-pin'));
  await secretFile(join(dir, 'secrets', 'so-pin'));
  process.env['SOFTHSM2_CONF'] = conf;
  const modulePath = findSoftHsmModule();
  if (!modulePath) throw new CliError('SoftHSM2 is not installed: run scripts/setup-system.sh');
  const pin = (await readFile(join(dir, 'secrets', 'user-pin'), 'utf8')).trim();
  const soPin = (await readFile(join(dir, 'secrets', 'so-pin'), 'utf8')).trim();
  initToken({ modulePath, label: TOKEN_LABEL, pin, soPin });

  const configPath = join(dir, CONFIG_FILE);
  const created = !(await exists(configPath));
  if (created) {
    const config: ConfigInput = {
      dataDir: dir,
      database: options.database ? { client: 'pg', connection: options.database } : { client: 'sqlite', filename: 'vault.db' },
      // Paths relative to the data directory: it may move (a snap refresh changes $SNAP_DATA, backups are restored elsewhere).
      hsm: { uri: `pkcs11:token=${TOKEN_LABEL}?pin-source=file:secrets/user-pin`, softhsmConf: 'softhsm2.conf' },
      device: { port: options.port ?? 8080 },
      admin: { port: options.adminPort ?? 8081 },
    };
    parseConfig(config);
    const { dataDir: _omit, ...stored } = config;
    await writeAtomically(configPath, `${JSON.stringify(stored, null, 2)}\n`, 0o600);
  }
  return { dir, created };
}

export interface DemoFiles {
  readonly model: string;
  readonly trusted: string;
  readonly apiKey: string;
  readonly created: boolean;
}

/** Writes a file whole or not at all (a temporary file renamed over it): a kill leaves the old one or the new one. */
async function writeAtomically(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

/**
 * A local root, a brand, a model with vault-allocated serials and an API
 * key, for trying the vault out. Each step checks whether it was already
 * done, and each writes all of its rows in one transaction, so a run
 * stopped at any point (kill -9 included) completes when run again.
 */
export async function createDemo(vault: Vault): Promise<DemoFiles> {
  const dir = join(vault.config.dataDir, 'demo');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { model: join(dir, 'demo-model.model'), trusted: join(dir, 'trusted.assert'), apiKey: join(dir, 'api-key') };
  let created = false;
  if (!(await vault.custody.keys.roots()).some((k) => k.label === 'root-demo-root')) {
    await vault.custody.createAuthority('demo-root', 'Demo root (local, not trusted by real devices)');
    created = true;
  }
  if (!(await vault.custody.brands.byAccountId('demo-brand'))) {
    await vault.custody.createBrand('demo-brand', 'Demo Brand', 'demo-root');
    created = true;
  }
  let model = await vault.models.find('demo-brand', 'demo-model');
  if (!model) {
    model = await vault.models.createModel(
      { 'brand-id': 'demo-brand', model: 'demo-model', 'display-name': 'Demo Model', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel' },
      { serialPolicy: 'template', serialTemplate: 'DEMO-{n:06}' },
    );
    created = true;
  }
  // The key is shown once: a run stopped before its file was written makes another.
  if (!(await exists(files.apiKey)) || !(await vault.provisioning.apiKeys.verify((await readFile(files.apiKey, 'utf8')).trim()))) {
    const { key } = await vault.provisioning.apiKeys.create(model.id, 'demo');
    await writeAtomically(files.apiKey, `${key}\n`, 0o600);
    created = true;
  }
  await writeAtomically(files.model, (await vault.models.assertion(model)).encode());
  await writeAtomically(files.trusted, encodeStream(await vault.custody.exportTrusted()));
  return { ...files, created };
}

export function vaultCommands(io: CliIo): Command[] {
  const init = new Command('init')
    .description('set up a data directory on the embedded defaults: SoftHSM2 token (random PINs in files), SQLite database, config')
    .addOption(dataDirOption())
    .option('--demo', 'also create a demo root, brand, model and API key, and print how to register a device')
    .addOption(new Option('--port <port>', 'device API port (default 8080)').argParser((v) => Number(v)))
    .addOption(new Option('--admin-port <port>', 'admin listener port: metrics, health (default 8081; 0 picks a free one)').argParser((v) => Number(v)))
    .option('--database <url>', 'a PostgreSQL connection URL instead of SQLite')
    .action(async (options) => {
      const { dir, created } = await initDataDir(options.dataDir, {
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(options.adminPort !== undefined ? { adminPort: options.adminPort } : {}),
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
            `  serial-vault device register --url ${url} --api-key-file ${demo.apiKey} --model-assertion ${demo.model} --trusted ${demo.trusted}`,
            '',
          ].join('\n'),
        );
      });
    });

  const serve = new Command('serve')
    .description('run the vault: the device API (request-id, serial) and the admin API (sign-in, stores, roles, tokens, metrics), each on its own listener')
    .addOption(dataDirOption())
    .addOption(new Option('--port <port>', 'device API port (overrides the config)').argParser((v) => Number(v)))
    .option('--host <host>', 'device API address (overrides the config)')
    .action(async (options) => {
      let vault: Vault;
      try {
        const config = await loadConfig(options.dataDir, {
          device: { ...(options.port !== undefined ? { port: options.port } : {}), ...(options.host ? { host: options.host } : {}) } as ConfigInput['device'],
        });
        vault = await openVault(config);
      } catch (e) {
        throw asCliError(e);
      }
      // A port in use (or any listener failing) ends the command with one line, and the
      // vault closes: its signer threads and database pool would otherwise keep the process alive.
      const listen = async <T extends { close(): Promise<void> }>(what: string, port: number, start: () => Promise<T>): Promise<T> => {
        try {
          return await start();
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          const why = err.code === 'EADDRINUSE' ? `port ${port} is already in use` : err.code === 'EACCES' ? `no permission to listen on port ${port}` : err.message;
          throw new CliError(`cannot start the ${what}: ${why}`, 1);
        }
      };
      let listening: Listening | undefined;
      let admin: Listening;
      try {
        listening = await listen('device API', vault.config.device.port, () => serveDevices(vault));
        admin = await listen('admin listener', vault.config.admin.port, () => serveAdmin(vault));
      } catch (e) {
        await listening?.close();
        await vault.close();
        throw e;
      }
      io.stderr(`serial-vault ${vault.config.dataDir}: device API on ${listening.url}, admin API on ${admin.url}api/v1/ (sign-in, metrics, health)\n`);
      if ((await vault.accounts.listPeople(OPERATOR, { limit: 1 })).items.length === 0) {
        io.stderr(`no administrators yet: serial-vault admin create --email YOU@EXAMPLE.COM --data-dir ${vault.config.dataDir}\n`);
      }
      await new Promise<void>((resolveStop) => {
        const stop = (signal: string) => {
          vault.logger.info({ signal }, 'stopping: finishing the registrations in progress');
          resolveStop();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGHUP', () => {
          reopenLog(vault.logger);
          vault.logger.info('log file re-opened (SIGHUP)');
        });
      });
      // Registrations in progress finish (their serials are written), new ones get a 503,
      // then the HSM sessions and the database close.
      await listening.close();
      await admin.close();
      await vault.close();
      vault.logger.info('stopped');
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
