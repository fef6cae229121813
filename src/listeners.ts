import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { OidcSignIn } from './accounts/sso.js';
import { VERSION, type Vault } from './vault.js';
import { storePublicUrl, type Config } from './config.js';
import { pendingMigrations } from './db/database.js';
import { vaultSecret } from './db/settings.js';
import { adminApp } from './http/admin-app.js';
import { Lifecycle, deviceApp } from './http/device-app.js';
import { storeApp } from './http/store-app.js';
import { HttpError } from './http/errors.js';

/**
 * The vault's listeners: the device API and the admin listener (admin API,
 * sign-in, metrics, health), with their readiness check.
 */

/**
 * Readiness, worked out at most once a second: the device port's check
 * needs no credentials, and the database probe is a write.
 */
function readiness(vault: Vault): () => Promise<{ ok: boolean; problems: string[] }> {
  let last: { at: number; result: Promise<{ ok: boolean; problems: string[] }> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= 1000) last = { at: now, result: ready(vault) };
    return last.result;
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
  // One token of several out of rotation: registrations go on with the others, so the vault stays ready.
  const degraded = !hsm.ok && (vault.keystore.tokens?.().some((t) => t.ok) ?? false);
  if (!hsm.ok && !degraded) problems.push(`hsm: ${hsm.problem ?? 'not ready'}`);
  return { ok: problems.length === 0, problems };
}

/**
 * The admin listener's readiness: the same verdict, and on an appliance its
 * link to central (lag, push backlog, leases, alarms). Being offline does not
 * make an appliance unready: it goes on registering devices and serving its store.
 */
function adminReadiness(vault: Vault): () => Promise<{ ok: boolean; problems: string[] }> {
  const base = readiness(vault);
  return async () => {
    const verdict = await base();
    if (vault.sync.role !== 'appliance') return verdict;
    const sync = await vault.sync.status().catch(() => undefined);
    return { ...verdict, ...(sync ? { sync: { upstream: sync.upstream, pull: sync.pull, push: sync.push, leases: sync.leases, alarms: sync.alarms } } : {}) };
  };
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
    ready: readiness(vault),
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

/** Starts the store listener: what snapd's store client calls (sessions, snap actions, info, find, assertions, files). */
export async function serveStore(vault: Vault): Promise<Listening> {
  const { store } = vault.config;
  if (!store.publicUrl && ['0.0.0.0', '::', '[::]'].includes(store.host)) {
    // Download and assertion URLs are made from the public URL: http://0.0.0.0:8082/ reaches no device.
    throw new HttpError('ERR_LISTEN_FAILED', `the store listens on all addresses (store.host ${store.host}): set store.publicUrl to the URL devices reach it at (snap set serial-vault store.public-url=http://HOST:${store.port}/)`);
  }
  const lifecycle = new Lifecycle();
  const app = storeApp(vault.store, { basePath: store.basePath, maxBodyBytes: 4 * 1024 * 1024, logger: vault.logger, metrics: vault.metrics, lifecycle });
  const server = createServer({ connectionsCheckingInterval: 1000 }, app.callback());
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  // Downloads of large snaps over slow links take long: no overall request timeout, only snapd's own speed floor.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(store.port, store.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  if (!store.publicUrl) vault.store.listeningAt(storePublicUrl(vault.config, address.port));
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}${store.basePath}`;
  vault.logger.info({ url, publicUrl: vault.store.url, anonymousStore: store.anonymousStore ?? 'off' }, 'store listening');
  return {
    server,
    url,
    async close(graceMs = 20_000) {
      await lifecycle.drain(graceMs);
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
    ready: adminReadiness(vault),
    beforeScrape: () => {
      vault.metrics.registrationQueue.set(vault.provisioning.queued);
      const load = vault.keystore.load?.();
      if (load) {
        vault.metrics.hsmQueueDepth.set(load.queued);
        vault.metrics.hsmBusySigners.set(load.busy);
      }
    },
    api: {
      accounts: vault.accounts,
      snaps: vault.snaps,
      custody: { custody: vault.custody, ceremonies: vault.ceremonies, keyHealth: () => vault.keyHealth() },
      provisioning: vault.provisioning,
      audit: vault.audit,
      ...(vault.sync.role === 'central' ? { appliances: vault.sync.appliances, syncConflicts: vault.sync.conflicts } : {}),
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
