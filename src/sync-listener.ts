import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Lifecycle } from './http/device-app.js';
import { HttpError } from './http/errors.js';
import { enrolRoutes } from './http/sync/enrol-routes.js';
import { feedRoutes } from './http/sync/feed-routes.js';
import { pushRoutes } from './http/sync/push-routes.js';
import { syncApp } from './http/sync-app.js';
import type { Listening } from './listeners.js';
import type { CentralSync } from './sync/service.js';
import type { Vault } from './vault.js';

/**
 * Central's listener for appliances: enrolment, sign-in by HSM key, the
 * change feed and snapshot, pushes, leases and blobs. HTTPS when
 * sync.tlsCert and sync.tlsKey are set; otherwise plain HTTP, for loopback
 * or behind a TLS proxy.
 */
export async function serveSync(vault: Vault, sync: CentralSync): Promise<Listening> {
  const cfg = vault.config.sync;
  if ((cfg.tlsCert === undefined) !== (cfg.tlsKey === undefined)) {
    throw new HttpError('ERR_LISTEN_FAILED', 'sync.tlsCert and sync.tlsKey go together: set both for HTTPS, or neither behind a TLS proxy');
  }
  const lifecycle = new Lifecycle();
  const routes = [
    ...enrolRoutes({ enrolment: sync.enrolment, auth: sync.auth }),
    ...feedRoutes({ db: vault.db, feed: sync.feed, blobs: sync.blobs, maxWaitSeconds: 60, ensureActive: (a) => sync.auth.ensureActive(a) }),
    ...pushRoutes({ receiver: sync.receiver, leases: sync.leases }),
  ];
  const app = syncApp(routes, { authenticate: (token) => sync.auth.authenticate(token), maxBodyBytes: cfg.maxBodyBytes, logger: vault.logger, metrics: vault.metrics, lifecycle });
  const tls = cfg.tlsCert && cfg.tlsKey ? { cert: await readFile(cfg.tlsCert), key: await readFile(cfg.tlsKey) } : undefined;
  const server = tls ? createHttpsServer({ ...tls }, app.callback()) : createHttpServer(app.callback());
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  // Long-polls wait up to a minute and snapshots stream for as long as they take: no overall timeout.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, cfg.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls ? 'https' : 'http'}://${host}:${address.port}/`;
  vault.logger.info({ url }, 'sync listener (appliances) listening');
  return {
    server: server as unknown as Listening['server'],
    url,
    async close(graceMs = 5000) {
      await lifecycle.drain(graceMs);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
