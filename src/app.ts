import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { databaseFile, type Config } from './config.js';
import { checkpointWhenIdle, migrate, openDatabase, pendingMigrations, type Database } from './db/database.js';
import { AccountsService } from './accounts/service.js';
import { OidcSignIn } from './accounts/sso.js';
import { vaultSecret } from './db/settings.js';
import { adminApp } from './http/admin-app.js';
import { Lifecycle, deviceApp } from './http/device-app.js';
import { Metrics } from './http/metrics.js';
import type { KeyStore } from './keystore/keystore.js';
import { Pkcs11KeyStore } from './keystore/pkcs11/keystore.js';
import { BrandSetup } from './keys/brand-setup.js';
import { ProvisioningService } from './provisioning/service.js';

export const VERSION = '0.1.0';

/** The vault's parts, built in one place. */
export interface Vault {
  readonly config: Config;
  readonly db: Database;
  readonly keystore: KeyStore;
  readonly setup: BrandSetup;
  readonly provisioning: ProvisioningService;
  readonly accounts: AccountsService;
  readonly logger: Logger;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

export interface VaultOptions {
  readonly logger?: Logger;
  /** Tests may hand in a keystore; production always opens the configured HSM. */
  readonly keystore?: KeyStore;
}

/** JSON logs to standard output, a file (`log.file`), or standard error for CLI commands (their stdout is their output). */
export function createLogger(config: Config, fd: 1 | 2 = 1): Logger {
  const destination = fd === 1 && config.log.file ? pino.destination({ dest: config.log.file, sync: false, mkdir: true }) : pino.destination({ fd, sync: fd === 2 });
  const logger = pino(
    {
      level: config.log.level,
      base: { service: 'serial-vault' },
      // Anything that might carry a secret is removed before it is written.
      redact: {
        paths: ['pin', '*.pin', 'apiKey', '*.apiKey', 'secret', '*.secret', 'token', 'sessionId', 'clientSecret', '*.clientSecret', 'req.headers["api-key"]', 'req.headers.authorization', 'req.headers.cookie', 'headers["api-key"]', 'headers.authorization', 'headers.cookie'],
        remove: true,
      },
    },
    destination,
  );
  reopeners.set(logger, () => destination.reopen());
  return logger;
}

const reopeners = new WeakMap<Logger, () => void>();

/** Re-opens a logger's file (after logrotate moved it): what SIGHUP does. */
export function reopenLog(logger: Logger): void {
  reopeners.get(logger)?.();
}

/**
 * The embedded SoftHSM2 configuration names its token directory by absolute
 * path; when the data directory has moved (snap refresh, restored backup),
 * point it at the tokens beside it again.
 */
async function followDataDir(config: Config): Promise<void> {
  const conf = config.hsm.softhsmConf;
  if (!conf || dirname(conf) !== config.dataDir) return;
  const text = await readFile(conf, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const tokens = join(config.dataDir, 'tokens');
  const updated = text.replace(/^directories\.tokendir\s*=.*$/m, `directories.tokendir = ${tokens}`);
  if (updated !== text) await writeFile(conf, updated, { mode: 0o600 });
}

export function databaseConfig(config: Config) {
  return config.database.client === 'sqlite'
    ? { client: 'sqlite' as const, filename: databaseFile(config) as string, busyTimeoutMs: config.database.busyTimeoutMs }
    : { client: 'pg' as const, connection: config.database.connection };
}

export async function openVault(config: Config, options: VaultOptions = {}): Promise<Vault> {
  const logger = options.logger ?? createLogger(config);
  if (config.hsm.softhsmConf) {
    await followDataDir(config);
    process.env['SOFTHSM2_CONF'] = config.hsm.softhsmConf;
  }
  const db = openDatabase(databaseConfig(config));
  const metrics = new Metrics();
  const started = new Map<string, number>();
  db.on('query', (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, performance.now()));
  const finished = (_: unknown, q: { __knexQueryUid: string }) => {
    const t = started.get(q.__knexQueryUid);
    if (t !== undefined) metrics.dbDuration.observe((performance.now() - t) / 1000);
    started.delete(q.__knexQueryUid);
  };
  db.on('query-response', (r: unknown, q: { __knexQueryUid: string }) => finished(r, q));
  db.on('query-error', (e: unknown, q: { __knexQueryUid: string }) => finished(e, q));
  let keystore: KeyStore | undefined;
  let stopMaintenance = () => undefined as void;
  try {
    const applied = await migrate(db);
    stopMaintenance = checkpointWhenIdle(db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    keystore =
      options.keystore ??
      (await Pkcs11KeyStore.open({
        uri: config.hsm.uri,
        ...(config.hsm.signers !== undefined ? { signers: config.hsm.signers } : {}),
        signTimeoutMs: config.hsm.signTimeoutMs,
        // Every registration in flight may wait for a signer; beyond that the device API answers 503 itself.
        maxQueue: config.device.maxInFlight,
        onEvent: (e) => logger.warn({ event: e.type, ...('reason' in e ? { reason: e.reason } : {}) }, 'hsm'),
      }));
    const signing = timedKeyStore(keystore, metrics);
    const setup = new BrandSetup(db, signing);
    const provisioning = new ProvisioningService(db, signing, setup, { requestIdTtlMs: config.device.requestIdTtlSeconds * 1000 });
    await provisioning.start();
    const accounts = new AccountsService(db, { sessionTtlMs: config.admin.sessionHours * 3600_000, maxTokenDays: config.admin.maxTokenDays });
    // Used request-ids are kept a day after they expire (re-posts, audit), then forgotten.
    const pruner = setInterval(() => {
      void provisioning.requestIds.prune().catch(() => undefined);
      void accounts.pruneSessions().catch(() => undefined);
    }, 3600_000);
    pruner.unref();
    const stopCheckpointTimer = stopMaintenance;
    stopMaintenance = () => {
      clearInterval(pruner);
      stopCheckpointTimer();
    };
    const ks = keystore;
    return {
      config,
      db,
      keystore: ks,
      setup,
      provisioning,
      accounts,
      logger,
      metrics,
      async close() {
        stopMaintenance();
        await ks.close();
        await db.destroy();
      },
    };
  } catch (e) {
    stopMaintenance();
    await keystore?.close();
    await db.destroy();
    throw e;
  }
}

/** The keystore as the vault uses it, with every signature timed. */
function timedKeyStore(store: KeyStore, metrics: Metrics): KeyStore {
  const signDigest: KeyStore['signDigest'] = async (ref, digest) => {
    const end = metrics.hsmSignDuration.startTimer();
    try {
      return await store.signDigest(ref, digest);
    } finally {
      end();
    }
  };
  return {
    generate: (label) => store.generate(label),
    find: (ref) => store.find(ref),
    list: () => store.list(),
    signDigest,
    destroy: (ref) => store.destroy(ref),
    health: () => store.health(),
    close: () => store.close(),
    ...(store.load ? { load: () => store.load!() } : {}),
  };
}

async function ready(vault: Vault): Promise<{ ok: boolean; problems: string[] }> {
  const problems: string[] = [];
  try {
    // A write, not just a read: a full disk or a read-only database must show here.
    await vault.db('settings').insert({ name: 'health-probe', value: new Date().toISOString() }).onConflict('name').merge();
    const pending = await pendingMigrations(vault.db);
    if (pending.length > 0) problems.push(`database: ${pending.length} migrations not applied`);
  } catch (e) {
    problems.push(`database: ${(e as Error).message}`);
  }
  const hsm = await vault.keystore.health();
  if (!hsm.ok) problems.push(`hsm: ${hsm.problem ?? 'not ready'}`);
  return { ok: problems.length === 0, problems };
}

export interface Listening {
  readonly server: Server;
  readonly url: string;
  /**
   * Stops taking requests (new ones get a 503 snapd retries), lets those in
   * progress finish within `graceMs`, then closes every connection.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts the device API on its own listener. */
export async function serveDevices(vault: Vault): Promise<Listening> {
  const { device } = vault.config;
  const lifecycle = new Lifecycle();
  const app = deviceApp(vault.provisioning, {
    lifecycle,
    basePath: device.basePath,
    maxInFlight: device.maxInFlight,
    maxBodyBytes: device.maxBodyBytes,
    bodyTimeoutMs: device.bodyTimeoutSeconds * 1000,
    version: VERSION,
    logger: vault.logger,
    metrics: vault.metrics,
    ready: () => ready(vault),
  });
  // Timeouts are checked every second, not Node's default 30 s, so a socket that never finishes its headers goes soon.
  const server = createServer({ connectionsCheckingInterval: 1000 }, app.callback());
  // Keep idle connections shorter than typical proxies', and cap slow clients.
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 30_000;
  server.headersTimeout = device.headersTimeoutSeconds * 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(device.port, device.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}${device.basePath}`;
  vault.logger.info({ url }, 'device API listening');
  return {
    server,
    url,
    async close(graceMs = 20_000) {
      const drained = await lifecycle.drain(graceMs);
      if (!drained) vault.logger.warn({ inFlight: lifecycle.inFlight }, 'requests still in progress at the end of the shutdown grace period');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Starts the admin listener: admin API, single sign-on, Prometheus metrics and health checks. */
export async function serveAdmin(vault: Vault): Promise<Listening> {
  const { admin } = vault.config;
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(admin.port, admin.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
  const publicUrl = new URL(admin.publicUrl ?? url);
  const app = adminApp({
    metrics: vault.metrics,
    logger: vault.logger,
    ready: () => ready(vault),
    beforeScrape: () => {
      const load = vault.keystore.load?.();
      if (load) {
        vault.metrics.hsmQueueDepth.set(load.queued);
        vault.metrics.hsmBusySigners.set(load.busy);
      }
    },
    api: {
      accounts: vault.accounts,
      sso: await signInFor(vault.config, publicUrl),
      cookieKey: await vaultSecret(vault.db, 'cookie-key'),
      publicUrl,
      sessionTtlMs: admin.sessionHours * 3600_000,
      maxBodyBytes: admin.maxBodyBytes,
      version: VERSION,
    },
  });
  if (publicUrl.protocol === 'https:') app.proxy = true; // behind the TLS proxy the public URL names
  handle = app.callback();
  vault.logger.info({ url, publicUrl: publicUrl.href, sso: vault.config.sso ? vault.config.sso.issuer : 'off' }, 'admin listener (admin API, sign-in, metrics, health) listening');
  return {
    server,
    url,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Single sign-on as configured; the client secret is read from its file. */
async function signInFor(config: Config, publicUrl: URL): Promise<OidcSignIn | undefined> {
  const sso = config.sso;
  if (!sso) return undefined;
  let clientSecret: string | undefined;
  if (sso.clientSecretFile) {
    try {
      clientSecret = (await readFile(sso.clientSecretFile, 'utf8')).trim();
    } catch (e) {
      throw new Error(`cannot read the single sign-on client secret from ${sso.clientSecretFile}: ${(e as Error).message}`, { cause: e });
    }
  }
  return new OidcSignIn({
    issuer: sso.issuer,
    clientId: sso.clientId,
    ...(clientSecret ? { clientSecret } : {}),
    redirectUri: new URL('auth/callback', publicUrl).href,
    postLogoutRedirectUri: publicUrl.href,
    scopes: sso.scopes,
  });
}
