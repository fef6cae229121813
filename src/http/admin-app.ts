import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { OidcSignIn } from '../accounts/sso.js';
import { CookieSealer } from './admin/cookies.js';
import { serveDashboard } from './admin/dashboard.js';
import { mountRoutes } from './admin/mount.js';
import { openApiDocument } from './admin/openapi.js';
import type { AdminRoute } from './admin/route.js';
import { adminRoutes, type AdminServices } from './admin/routes.js';
import { mountSignIn } from './admin/sign-in.js';
import type { Metrics } from './metrics.js';
import { accessLog, errors, sendJson } from './middleware.js';

export interface AdminApiOptions extends AdminServices {
  readonly sso: OidcSignIn | undefined;
  /** Signs the sign-in cookie and derives CSRF tokens; a per-vault secret. */
  readonly cookieKey: Buffer;
  readonly publicUrl: URL;
  readonly sessionTtlMs: number;
  readonly maxBodyBytes: number;
  readonly version: string;
}

export interface AdminAppOptions {
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly ready: () => Promise<{ ok: boolean; problems: string[] }>;
  /** Refreshes gauges read on demand (HSM queue depth) before a scrape. */
  readonly beforeScrape?: () => void;
  /** The admin API and sign-in; without it the listener serves metrics and health only. */
  readonly api?: AdminApiOptions;
}

/** Routes under /api/v1 that need no sign-in: the API's own description. */
export const PUBLIC_API_PATHS = ['/api/v1/openapi.json'] as const;

/** The admin listener: the admin API, single sign-on, Prometheus metrics and health, apart from the device API. */
export interface AdminAppExtras {
  /** The admin API's declared routes (with their policy actions). */
  readonly adminRoutes: readonly AdminRoute[];
  /** Every route the router actually serves, declared or not: what the policy test walks. */
  readonly registeredRoutes: ReadonlyArray<{ method: string; path: string }>;
}

export function adminApp(options: AdminAppOptions): Koa & AdminAppExtras {
  const app = new Koa();
  const router = new Router();
  let routes: AdminRoute[] = [];

  router.get('/metrics', async function scrape(ctx) {
    options.beforeScrape?.();
    ctx.set('Content-Type', options.metrics.registry.contentType);
    ctx.body = await options.metrics.registry.metrics();
  });

  router.get('/health/live', async function live(ctx) {
    sendJson(ctx, 200, { ok: true });
  });

  router.get('/health/ready', async function ready(ctx) {
    const r = await options.ready();
    sendJson(ctx, r.ok ? 200 : 503, r);
  });

  const api = options.api;
  if (api) {
    const sealer = new CookieSealer(api.cookieKey);
    routes = adminRoutes(api, (id) => sealer.csrfFor(id));
    const document = openApiDocument(routes, api.version);
    router.get('/api/v1/openapi.json', async function describeApi(ctx) {
      sendJson(ctx, 200, document);
    });
    mountRoutes(router, routes, { accounts: api.accounts, sealer, maxBodyBytes: api.maxBodyBytes });
    mountSignIn(router, { accounts: api.accounts, sso: api.sso, sealer, publicUrl: api.publicUrl, sessionTtlMs: api.sessionTtlMs, logger: options.logger });
  }

  // Scrapes and health probes come every few seconds: not worth a log line each.
  const logAccess = accessLog(options.logger, undefined);
  app.use((ctx, next) => (ctx.path === '/metrics' || ctx.path.startsWith('/health/') ? next() : logAccess(ctx, next)));
  app.use(errors(options.logger, options.metrics));
  app.use(async function noStore(ctx, next) {
    await next();
    // Answers about people and tokens must not sit in shared caches.
    if (ctx.path.startsWith('/api/')) ctx.set('Cache-Control', 'no-store');
  });
  app.use(router.routes());
  // The dashboard answers what no route did (its files, and index.html for its own paths).
  if (api) app.use(serveDashboard());
  app.use(router.allowedMethods({ throw: false }));
  const registeredRoutes = router.stack.flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => ({ method: m.toLowerCase(), path: String(layer.path) })));
  return Object.assign(app, { adminRoutes: routes, registeredRoutes });
}
