import Koa, { type Context, type Next } from 'koa';
import getRawBody from 'raw-body';
import type { Logger } from 'pino';
import { applianceToken } from '../sync/appliance-auth.js';
import { SyncError } from '../sync/errors.js';
import type { ApplianceContext } from '../sync/upstream.js';
import type { Lifecycle } from './device-app.js';
import { HttpError, describeError } from './errors.js';
import type { Metrics } from './metrics.js';

/**
 * One endpoint of central's sync API. Routes come from several modules
 * (enrolment, the change feed, pushes, leases); each says whether it needs
 * an appliance's sync token, and its handler only turns HTTP into a call
 * into `sync` and back. `appliance` is null on unauthenticated routes.
 */
export interface SyncRoute {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  /** Matched against the path after `/sync/v1/`; groups become `params`. */
  readonly path: RegExp;
  readonly authenticated: boolean;
  handle(ctx: Context, appliance: ApplianceContext | null, params: string[]): Promise<void>;
}

export interface SyncAppOptions {
  /** Checks `Authorization: Appliance <token>` (ApplianceAuth.authenticate), reading the appliance on every call. */
  readonly authenticate: (token: string) => Promise<ApplianceContext>;
  /** config.sync.maxBodyBytes: the largest body any route reads. */
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly lifecycle?: Lifecycle;
}

const PREFIX = '/sync/v1/';

/** Exactly `application/json`, like every other listener's answers. */
export function sendSyncJson(ctx: Context, status: number, value: unknown): void {
  ctx.status = status;
  ctx.set('Content-Type', 'application/json');
  ctx.body = Buffer.from(JSON.stringify(value));
}

/** The request body as JSON, never more than config.sync.maxBodyBytes (413 ERR_BODY_TOO_LARGE beyond). */
export async function syncJsonBody(ctx: Context): Promise<unknown> {
  const limit = ctx.state['maxBodyBytes'] as number;
  let raw: Buffer;
  try {
    raw = await getRawBody(ctx.req, { limit, length: ctx.get('Content-Length') || undefined });
  } catch (e) {
    if ((e as { type?: string }).type === 'entity.too.large') throw new HttpError('ERR_BODY_TOO_LARGE', `the request is larger than ${limit} bytes: send smaller batches`);
    throw new HttpError('ERR_BODY_INVALID', 'cannot read the request body');
  }
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new HttpError('ERR_BODY_INVALID', 'the request body is not JSON');
  }
}

/** Errors as {error:{code,message}}: our sentence for the appliance, the cause for the log only. */
function renderError(ctx: Context, e: unknown, logger: Logger, metrics: Metrics | undefined): void {
  const { status, code, message, expose } = describeError(e);
  metrics?.refusals.inc({ code });
  ctx.state['errorCode'] = code;
  if (!expose) (status === 503 ? logger.warn : logger.error).call(logger, { err: e, reqId: ctx.state['reqId'] }, status === 503 ? 'sync request deferred (503)' : 'sync request failed');
  if (status === 503) ctx.set('Retry-After', '5');
  if (status === 401) ctx.set('WWW-Authenticate', 'Appliance');
  // A sync refusal's detail (the sequence an out-of-order push must start from) is for the appliance to act on.
  const detail = expose && e instanceof SyncError && e.detail ? { detail: e.detail } : {};
  sendSyncJson(ctx, status, { error: { code, message, ...detail } });
}

/**
 * Central's listener for appliances: one route table, JSON bodies bounded
 * by config.sync.maxBodyBytes, and the Appliance-token check in front of
 * every authenticated route, putting the appliance in ctx.state.appliance.
 */
export function syncApp(routes: readonly SyncRoute[], options: SyncAppOptions): Koa {
  const app = new Koa({ proxy: false });
  let seq = 0;
  app.use(async function dispatch(ctx: Context, next: Next) {
    const start = performance.now();
    ctx.state['reqId'] = `y${process.pid.toString(36)}-${(++seq).toString(36)}`;
    ctx.state['maxBodyBytes'] = options.maxBodyBytes;
    let route: SyncRoute | undefined;
    let appliance: ApplianceContext | null = null;
    try {
      if (!ctx.path.startsWith(PREFIX)) throw new HttpError('ERR_NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`);
      const rel = ctx.path.slice(PREFIX.length);
      let params: string[] = [];
      const matching = routes.filter((r) => r.path.test(rel));
      if (matching.length === 0) throw new HttpError('ERR_NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`);
      route = matching.find((r) => r.method === ctx.method || (r.method === 'GET' && ctx.method === 'HEAD'));
      if (!route) throw new HttpError('ERR_METHOD_NOT_ALLOWED', `${ctx.path} takes ${matching.map((r) => r.method).join(', ')}`);
      params = route.path.exec(rel)!.slice(1);
      const run = async () => {
        if (route!.authenticated) {
          const token = applianceToken(ctx.get('Authorization'));
          if (!token) throw new SyncError('ERR_APPLIANCE_AUTH', 'this call needs "Authorization: Appliance <token>": sign a nonce (POST /sync/v1/sessions) for one');
          appliance = await options.authenticate(token);
          ctx.state['appliance'] = appliance;
        }
        await route!.handle(ctx, appliance, params);
      };
      if (options.lifecycle) await options.lifecycle.middleware()(ctx, run);
      else await run();
      await next();
    } catch (e) {
      renderError(ctx, e, options.logger, options.metrics);
    } finally {
      const ms = performance.now() - start;
      const name = route?.name ?? 'unmatched';
      options.metrics?.httpRequests.inc({ route: `sync:${name}`, method: ctx.method, status: String(ctx.status) });
      options.metrics?.httpDuration.observe({ route: `sync:${name}` }, ms / 1000);
      const who = appliance as ApplianceContext | null;
      options.logger.info(
        { reqId: ctx.state['reqId'], endpoint: name, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms), ip: ctx.ip, ...(who ? { appliance: who.name } : {}), ...(ctx.state['errorCode'] ? { code: ctx.state['errorCode'] } : {}) },
        'sync request',
      );
    }
  });
  // An appliance that goes away mid-answer (a cut link it will retry) is routine.
  app.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ERR_STREAM_PREMATURE_CLOSE') options.logger.debug({ err: e.message }, 'appliance connection closed mid-answer');
    else options.logger.warn({ err: e }, 'sync answer failed');
  });
  return app;
}
