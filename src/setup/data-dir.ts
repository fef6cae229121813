import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_FILE, parseConfig, type ConfigInput } from '../config.js';
import { initToken } from '../keystore/pkcs11/init-token.js';
import { findSoftHsmModule } from '../keystore/pkcs11/module-path.js';
import { useSoftHsmConfig } from '../keystore/pkcs11/softhsm.js';
import { SetupError } from './errors.js';
import { exists, writeAtomically } from './files.js';

/**
 * A data directory on the embedded defaults: the SoftHSM2 configuration and
 * token (random PINs in files), and the config file. Every file is written
 * whole (rename), and each step is skipped when done, so a run stopped at
 * any point completes when run again.
 */

export const TOKEN_LABEL = 'serial-vault';
/** hsm/softhsm2.conf.template of the installed package, from the sources or from dist/. */
function templatePath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'hsm', 'softhsm2.conf.template');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new SetupError('ERR_INSTALL_INCOMPLETE', 'hsm/softhsm2.conf.template is missing from the installation: reinstall serial-vault');
    dir = parent;
  }
}

async function secretFile(path: string): Promise<void> {
  if (await exists(path)) return;
  await writeAtomically(path, `${randomBytes(18).toString('base64url')}\n`, 0o600);
}

/** Sets up the embedded defaults in a data directory: SoftHSM2 token, config, database. Idempotent. */
export async function initDataDir(dataDir: string, options: { port?: number; adminPort?: number; storePort?: number; syncPort?: number; database?: string } = {}): Promise<{ dir: string; created: boolean }> {
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
  useSoftHsmConfig(conf);
  const modulePath = findSoftHsmModule();
  if (!modulePath) throw new SetupError('ERR_SOFTHSM_MISSING', 'SoftHSM2 is not installed: run scripts/setup-system.sh');
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
      store: { port: options.storePort ?? 8082 },
      // A directory whose admin listener picks a free port (tests, several vaults on one machine) picks one for sync too.
      sync: { port: options.syncPort ?? (options.adminPort === 0 ? 0 : 8083) },
    };
    parseConfig(config);
    const { dataDir: _omit, ...stored } = config;
    await writeAtomically(configPath, `${JSON.stringify(stored, null, 2)}\n`, 0o600);
  }
  return { dir, created };
}
