import Router from '@koa/router';
import Koa from 'koa';
import type { Metrics } from './metrics.js';

export interface AdminAppOptions {
  readonly metrics: Metrics;
  readonly ready: () => Promise<{ ok: boolean; problems: string[] }>;
  /** Refreshes gauges read on demand (HSM queue depth) before a scrape. */
  readonly beforeScrape?: () => void;
}

/** The admin listener: Prometheus metrics and health, apart from the device API. */
export function adminApp(options: AdminAppOptions): Koa {
  const app = new Koa();
  const router = new Router();

  router.get('/metrics', async function scrape(ctx) {
    options.beforeScrape?.();
    ctx.set('Content-Type', options.metrics.registry.contentType);
    ctx.body = await options.metrics.registry.metrics();
  });

  router.get('/health/live', async function live(ctx) {
    ctx.set('Content-Type', 'application/json');
    ctx.body = Buffer.from(JSON.stringify({ ok: true }));
  });

  router.get('/health/ready', async function ready(ctx) {
    const r = await options.ready();
    ctx.status = r.ok ? 200 : 503;
    ctx.set('Content-Type', 'application/json');
    ctx.body = Buffer.from(JSON.stringify(r));
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
