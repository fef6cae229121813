import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import getRawBody from 'raw-body';
import type { Logger } from 'pino';
import { PENDING, type ProvisioningService } from '../provisioning/service.js';
import type { Metrics } from './metrics.js';
import { HttpError } from './errors.js';
import { accessLog, errors, sendJson } from './middleware.js';

export const ASSERTION_TYPE = 'application/x.ubuntu.assertion';

export interface DeviceAppOptions {
  /** Where snapd's `device-service.url` points, e.g. `/v1/`. */
  readonly basePath: string;
  /** Serial requests handled at once; past this a device gets a fast 503 instead of waiting near snapd's 30 s timeout. */
  readonly maxInFlight: number;
  readonly maxBodyBytes: number;
  /** How long a request body may take to arrive. */
  readonly bodyTimeoutMs: number;
  readonly version: string;
  readonly logger: Logger;
  readonly ready: () => Promise<{ ok: boolean; problems: string[] }>;
  /** Requests still being handled, and whether the service is stopping: for a clean shutdown. */
  readonly lifecycle?: Lifecycle;
  readonly metrics?: Metrics;
}

/** Counts requests in progress and refuses new ones once stopping, so a shutdown loses nothing. */
export class Lifecycle {
  inFlight = 0;
  stopping = false;

  middleware() {
    return async (ctx: Context, next: Next) => {
      if (this.stopping) {
        ctx.set('Connection', 'close');
        throw new HttpError('ERR_SHUTTING_DOWN', 'the vault is restarting; try again shortly');
      }
      this.inFlight++;
      try {
        await next();
      } finally {
        this.inFlight--;
      }
    };
  }

  /** Stops taking requests and waits (at most `graceMs`) for those in progress. */
  async drain(graceMs: number): Promise<boolean> {
    this.stopping = true;
    const deadline = Date.now() + graceMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.inFlight === 0;
  }
}

function limitInFlight(max: number) {
  let inFlight = 0;
  return async function boundInFlight(_ctx: Context, next: Next) {
    if (inFlight >= max) throw new HttpError('ERR_OVERLOADED', `the vault is handling ${inFlight} registrations; try again shortly`);
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}

/**
 * Checks the api-key before anything else costs the vault: a client without
 * a valid key never holds a registration slot or has its body read.
 */
function requireApiKey(service: ProvisioningService) {
  return async function checkApiKey(ctx: Context, next: Next) {
    await service.checkApiKey(ctx.get('api-key') || undefined);
    await next();
  };
}

function assertionBody(maxBytes: number, timeoutMs: number) {
  return async function readAssertionBody(ctx: Context, next: Next) {
    const type = (ctx.get('Content-Type').split(';')[0] ?? '').trim().toLowerCase();
    if (type !== ASSERTION_TYPE) throw new HttpError('ERR_UNSUPPORTED_MEDIA_TYPE', `the body must be ${ASSERTION_TYPE}, not "${type || 'none'}"`);
    // A body trickling in holds a slot: it gets a bounded time, then the connection is closed.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctx.req.unpipe();
      ctx.req.emit('error', new Error('body read timed out'));
    }, timeoutMs);
    try {
      ctx.state['body'] = await getRawBody(ctx.req, { limit: maxBytes, length: ctx.get('Content-Length') || undefined });
    } catch (e) {
      const err = e as { type?: string; status?: number };
      if (err.type === 'entity.too.large') throw new HttpError('ERR_BODY_TOO_LARGE', `the request is larger than ${maxBytes} bytes`);
      if (timedOut) {
        ctx.set('Connection', 'close');
        throw new HttpError('ERR_BODY_TIMEOUT', `the request body did not arrive within ${Math.round(timeoutMs / 1000)} s`);
      }
      throw new HttpError('ERR_BODY_INVALID', 'cannot read the request body');
    } finally {
      clearTimeout(timer);
    }
    await next();
  };
}

/**
 * The device API: what snapd calls during registration. Each route is a
 * list of named steps; handlers only translate HTTP to provisioning calls.
 */
export function deviceApp(service: ProvisioningService, options: DeviceAppOptions): Koa {
  const app = new Koa({ proxy: false });
  const router = new Router();
  const base = options.basePath.endsWith('/') ? options.basePath : `${options.basePath}/`;
  const limit = limitInFlight(options.maxInFlight);

  router.post(`${base}request-id`, requireApiKey(service), async function issueRequestId(ctx) {
    const id = await service.newRequestId(ctx.get('api-key') || undefined);
    sendJson(ctx, 200, { 'request-id': id });
  });

  router.post(`${base}serial`, requireApiKey(service), limit, assertionBody(options.maxBodyBytes, options.bodyTimeoutMs), async function issueSerial(ctx) {
    const result = await service.issueSerial({ apiKey: ctx.get('api-key') || undefined, body: ctx.state['body'] as Buffer, clientAddress: ctx.ip });
    if (result === PENDING) {
      // snapd keeps this serial-request and posts it again later; the vault keeps the answer for it.
      sendJson(ctx, 202, { status: 'pending', message: 'the serial is being signed: post the same serial-request again later' });
      return;
    }
    ctx.state['serial'] = result.serial;
    options.metrics?.serialsIssued.inc({ brand: result.brandId, model: result.model, outcome: result.outcome });
    ctx.status = 200;
    ctx.set('Content-Type', ASSERTION_TYPE);
    ctx.body = result.stream;
  });

  router.get('/v1/version', async function version(ctx) {
    sendJson(ctx, 200, { name: 'serial-vault', version: options.version });
  });

  router.get('/health/live', async function live(ctx) {
    sendJson(ctx, 200, { ok: true });
  });

  // Devices learn only whether the vault is ready; the problems are on the admin listener.
  router.get('/health/ready', async function ready(ctx) {
    const r = await options.ready();
    sendJson(ctx, r.ok ? 200 : 503, { ok: r.ok });
  });

  app.use(accessLog(options.logger, options.metrics));
  app.use(errors(options.logger, options.metrics));
  if (options.lifecycle) app.use(options.lifecycle.middleware());
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true, methodNotAllowed: () => new HttpError('ERR_METHOD_NOT_ALLOWED', 'this endpoint does not take that method'), notImplemented: () => new HttpError('ERR_METHOD_NOT_ALLOWED', 'this method is not supported') }));
  return app;
}
