import { open } from 'node:fs/promises';
import Koa, { type Context, type Next } from 'koa';
import getRawBody from 'raw-body';
import type { Logger } from 'pino';
import { encodeStream } from '../assertions/index.js';
import type { View } from '../catalog/offer-reads.js';
import { sessionToken } from '../store/device-sessions.js';
import { SNAPD_CODE, StoreError, type StoreErrorCode } from '../store/errors.js';
import type { DeviceSession } from '../store/sessions.js';
import { encodeWithRaw } from '../store/snap-json.js';
import type { StoreService } from '../store/store-service.js';
import { ASSERTION_TYPE, type Lifecycle } from './device-app.js';
import { HttpError, describeError } from './errors.js';
import type { Metrics } from './metrics.js';
import { parseRange } from './range.js';
import { sendFileRange } from './send-file.js';

export interface StoreAppOptions {
  /** The path prefix every endpoint is under, "/" or e.g. "/store/". */
  readonly basePath: string;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly lifecycle?: Lifecycle;
}

interface StoreState {
  session: DeviceSession | null;
  view: View | null;
  architecture: string;
}

type Handler = (ctx: Context, state: StoreState, params: string[]) => Promise<void>;

interface Route {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  /** Whether the route reads a device session (nonces and sessions are asked for without one). */
  readonly authenticated: boolean;
  /** Assertion endpoints answer errors as application/problem+json, which snapd decodes there. */
  readonly problemJson?: boolean;
  readonly handle: Handler;
}

/** Exactly `application/json`: snapd's find and info refuse `application/json; charset=utf-8` (STORE.md §3.5). */
function sendJson(ctx: Context, status: number, value: unknown, type = 'application/json'): void {
  ctx.status = status;
  ctx.body = encodeWithRaw(value);
  ctx.set('Content-Type', type);
}

async function jsonBody(ctx: Context, limit: number): Promise<unknown> {
  let raw: Buffer;
  try {
    raw = await getRawBody(ctx.req, { limit, length: ctx.get('Content-Length') || undefined });
  } catch (e) {
    if ((e as { type?: string }).type === 'entity.too.large') throw new HttpError('ERR_BODY_TOO_LARGE', `the request is larger than ${limit} bytes`);
    throw new HttpError('ERR_BODY_INVALID', 'cannot read the request body');
  }
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new HttpError('ERR_BODY_INVALID', 'the request body is not JSON');
  }
}

/** Both header families snapd uses: `Snap-Device-*` on v2 calls, `X-Ubuntu-*` / `X-Device-*` on v1-level ones (downloads, assertions). */
const deviceHeader = (ctx: Context, v2: string, v1: string) => ctx.get(v2) || ctx.get(v1);

function routes(store: StoreService, options: StoreAppOptions): Route[] {
  const counted = { snap: (store: string, snap: string, result: string) => options.metrics?.countStoreSnap(store, snap, result) };
  return [
    {
      name: 'nonces',
      method: 'POST',
      path: /^api\/v1\/snaps\/auth\/nonces$/,
      authenticated: false,
      handle: async (ctx) => sendJson(ctx, 200, { nonce: await store.sessions.nonce() }),
    },
    {
      name: 'sessions',
      method: 'POST',
      path: /^api\/v1\/snaps\/auth\/sessions$/,
      authenticated: false,
      handle: async (ctx, state) => {
        const previous = sessionToken(ctx.get('X-Device-Authorization'));
        const { token, session } = await store.sessions.open(await jsonBody(ctx, options.maxBodyBytes), previous);
        state.session = session;
        sendJson(ctx, 200, { macaroon: token });
      },
    },
    {
      name: 'snap-action',
      method: 'POST',
      path: /^v2\/snaps\/refresh$/,
      authenticated: true,
      handle: async (ctx, state) => {
        const answer = await store.actions(state.view, state.architecture, await jsonBody(ctx, options.maxBodyBytes));
        for (const r of answer.results) if (r['result'] !== 'error' && r['name']) counted.snap(state.view?.storeId ?? 'none', String(r['name']), String(r['result']));
        sendJson(ctx, 200, answer);
      },
    },
    {
      name: 'info',
      method: 'GET',
      path: /^v2\/snaps\/info\/([^/]+)$/,
      authenticated: true,
      handle: async (ctx, state, [name]) => sendJson(ctx, 200, await store.info(state.view, name as string, String(ctx.query['architecture'] ?? state.architecture))),
    },
    {
      name: 'find',
      method: 'GET',
      path: /^v2\/snaps\/find$/,
      authenticated: true,
      handle: async (ctx, state) => {
        const q = (k: string) => (typeof ctx.query[k] === 'string' && ctx.query[k] !== '' ? (ctx.query[k] as string) : undefined);
        const query = {
          ...(q('q') ? { q: q('q') } : {}),
          ...(q('name') ? { name: q('name') } : {}),
          ...(q('channel') ? { channel: q('channel') } : {}),
          ...(q('confinement') ? { confinement: (q('confinement') as string).split(',') } : {}),
          privateOnly: q('private') === 'true',
        };
        sendJson(ctx, 200, await store.find(state.view, query, q('architecture') ?? state.architecture));
      },
    },
    {
      name: 'assertion',
      method: 'GET',
      path: /^v2\/assertions\/([a-z][a-z0-9-]*)((?:\/[^/]+)+)$/,
      authenticated: true,
      problemJson: true,
      handle: async (ctx, state, [type, rest]) => {
        let parts: string[];
        try {
          parts = (rest as string).slice(1).split('/').map(decodeURIComponent);
        } catch {
          throw new StoreError('ERR_ASSERTION_NOT_FOUND', `no assertion at ${ctx.path}`);
        }
        // snapd always says which formats it reads; a client that does not is given the assertion as it is.
        const maxFormat = /^\d+$/.test(String(ctx.query['max-format'] ?? '')) ? Number(ctx.query['max-format']) : Number.MAX_SAFE_INTEGER;
        const a = await store.assertions.find(state.view, type as string, parts, maxFormat);
        ctx.status = 200;
        ctx.set('Content-Type', ASSERTION_TYPE);
        ctx.body = encodeStream([a]);
      },
    },
    {
      name: 'download',
      method: 'GET',
      path: /^download\/snaps\/([A-Za-z0-9]{1,64})_([1-9][0-9]{0,9})\.snap$/,
      authenticated: true,
      handle: async (ctx, state, [snapId, revision]) => {
        const file = await store.file(state.view, snapId as string, Number(revision));
        const handle = await open(file.path, 'r');
        let sending = false;
        try {
          const size = (await handle.stat()).size;
          const range = parseRange(ctx.get('Range'), size);
          if (range === 'unsatisfiable') {
            ctx.set('Content-Range', `bytes */${size}`);
            throw new StoreError('ERR_RANGE_NOT_SATISFIABLE', `the file is ${size} bytes long`);
          }
          const [start, end] = range ?? [0, size - 1];
          ctx.status = range ? 206 : 200;
          ctx.set('Accept-Ranges', 'bytes');
          ctx.set('Content-Type', 'application/octet-stream');
          if (range) ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
          ctx.length = end - start + 1;
          const storeId = state.view?.storeId ?? 'none';
          counted.snap(storeId, file.snap.name, 'file');
          if (ctx.method === 'HEAD') return;
          // The bytes go out after this answer is logged, as a streamed body's would: a shutdown does not wait
          // for a download (the device resumes it with a Range), and the answer's time is the time to its start.
          ctx.respond = false;
          sending = true;
          void sendFileRange(ctx.res, handle, start, end).then((outcome) => {
            options.metrics?.storeBytes.inc({ store: storeId }, outcome.sent);
            if (outcome.ended === 'cut') options.logger.debug({ reqId: ctx.state['reqId'], sent: outcome.sent }, 'device connection closed mid-answer');
            if (outcome.ended === 'failed') options.logger.warn({ reqId: ctx.state['reqId'], err: outcome.error, sent: outcome.sent }, 'store answer failed mid-file; the connection was cut');
          }).catch((e: unknown) => options.logger.error({ err: e }, 'cannot record a finished download'));
        } finally {
          if (!sending) await handle.close();
        }
      },
    },
  ];
}

/**
 * Errors as snapd's store client reads them: `error-list` entries with
 * snapd's codes, exactly `application/json` (problem+json on assertion
 * endpoints), and for a session to renew, 401 with
 * `WWW-Authenticate: Macaroon refresh_device_session=1`, the one signal
 * that makes snapd refresh it and retry (STORE.md §2.4).
 */
function renderError(ctx: Context, e: unknown, route: Route | undefined, logger: Logger, metrics: Metrics | undefined): void {
  const { status, code, message, expose } = describeError(e);
  metrics?.refusals.inc({ code });
  ctx.state['errorCode'] = code;
  if (!expose) (status === 503 ? logger.warn : logger.error).call(logger, { err: e, reqId: ctx.state['reqId'] }, status === 503 ? 'store request deferred (503)' : 'store request failed');
  if (status === 503) ctx.set('Retry-After', '60');
  if (code === 'ERR_DEVICE_SESSION_INVALID') ctx.set('WWW-Authenticate', 'Macaroon refresh_device_session=1');
  const snapdCode = SNAPD_CODE[code as StoreErrorCode] ?? (status === 404 ? 'not-found' : code.toLowerCase().replace(/^err_/, '').replace(/_/g, '-'));
  sendJson(ctx, status, { 'error-list': [{ code: snapdCode, message }], code, message }, route?.problemJson ? 'application/problem+json' : 'application/json');
}

/**
 * The store snapd talks to, on its own listener (STORE.md): device
 * sessions, snap actions, info, find, assertions and files. One small route
 * table: each route names whether it reads a device session; every answer
 * is logged and counted by endpoint, store and model.
 */
export function storeApp(store: StoreService, options: StoreAppOptions): Koa {
  const app = new Koa({ proxy: false });
  const table = routes(store, options);
  const base = options.basePath.endsWith('/') ? options.basePath : `${options.basePath}/`;
  let seq = 0;
  app.use(async function dispatch(ctx: Context, next: Next) {
    const start = performance.now();
    ctx.state['reqId'] = `s${process.pid.toString(36)}-${(++seq).toString(36)}`;
    const state: StoreState = { session: null, view: null, architecture: deviceHeader(ctx, 'Snap-Device-Architecture', 'X-Ubuntu-Architecture') || 'amd64' };
    let route: Route | undefined;
    try {
      if (!ctx.path.startsWith(base)) throw new HttpError('ERR_NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`);
      const rel = ctx.path.slice(base.length);
      let params: string[] = [];
      for (const r of table) {
        const m = r.path.exec(rel);
        if (!m) continue;
        route = r;
        params = m.slice(1);
        break;
      }
      if (!route) throw new HttpError('ERR_NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`);
      if (route.method !== ctx.method && !(route.method === 'GET' && ctx.method === 'HEAD')) throw new HttpError('ERR_METHOD_NOT_ALLOWED', `${ctx.path} takes ${route.method}`);
      if (options.lifecycle) await options.lifecycle.middleware()(ctx, async () => run(route as Route, ctx, state, params));
      else await run(route, ctx, state, params);
      await next();
    } catch (e) {
      renderError(ctx, e, route, options.logger, options.metrics);
    } finally {
      const ms = performance.now() - start;
      const name = route?.name ?? 'unmatched';
      const outcome = (ctx.state['errorCode'] as string | undefined) ?? 'ok';
      options.metrics?.httpRequests.inc({ route: `store:${name}`, method: ctx.method, status: String(ctx.status) });
      options.metrics?.httpDuration.observe({ route: `store:${name}` }, ms / 1000);
      options.metrics?.storeRequests.inc({ endpoint: name, store: state.session?.storeId ?? state.view?.storeId ?? 'anonymous', model: state.session ? `${state.session.brandId}/${state.session.model}` : 'anonymous', outcome });
      options.logger.info(
        {
          reqId: ctx.state['reqId'],
          endpoint: name,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(ms),
          ip: ctx.ip,
          ...(state.session ? { device: `${state.session.brandId}/${state.session.model}/${state.session.serial}`, store: state.session.storeId } : {}),
          ...(ctx.state['errorCode'] ? { code: ctx.state['errorCode'] } : {}),
        },
        'store request',
      );
    }
  });

  // A device that goes away mid-download (a cut connection it will resume) is routine, not a fault.
  app.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ERR_STREAM_PREMATURE_CLOSE') options.logger.debug({ err: e.message }, 'device connection closed mid-answer');
    else options.logger.warn({ err: e }, 'store answer failed');
  });

  async function run(route: Route, ctx: Context, state: StoreState, params: string[]): Promise<void> {
    if (route.authenticated) {
      const token = sessionToken(deviceHeader(ctx, 'Snap-Device-Authorization', 'X-Device-Authorization'));
      // No session at all is the anonymous view; a session this store cannot honour is refused, so snapd renews it.
      state.session = token ? await store.sessions.authenticate(token) : null;
      state.view = store.viewOf(state.session);
    }
    await route.handle(ctx, state, params);
  }
  return app;
}
