import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { HttpError, describeError } from './errors.js';

/** snapd shows an error message only when Content-Type is exactly application/json. */
export function sendJson(ctx: Context, status: number, value: unknown): void {
  ctx.status = status;
  ctx.set('Content-Type', 'application/json');
  ctx.body = Buffer.from(JSON.stringify(value));
}

export function errors(logger: Logger, metrics: Metrics | undefined) {
  return async function renderErrors(ctx: Context, next: Next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new HttpError('ERR_NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`);
    } catch (e) {
      const { status, code, message, expose } = describeError(e);
      metrics?.refusals.inc({ code });
      ctx.state['errorCode'] = code;
      if (!expose) (status === 503 ? logger.warn : logger.error).call(logger, { err: e, reqId: ctx.state['reqId'] }, status === 503 ? 'request deferred (503)' : 'request failed');
      if (status === 503) ctx.set('Retry-After', '60');
      const details = e instanceof HttpError && e.details ? e.details : [{ code, message }];
      sendJson(ctx, status, { code, message, error_list: details });
    }
  };
}

export function accessLog(logger: Logger, metrics: Metrics | undefined) {
  let seq = 0;
  return async function logAccess(ctx: Context, next: Next) {
    const start = performance.now();
    ctx.state['reqId'] = `${process.pid.toString(36)}-${(++seq).toString(36)}`;
    try {
      await next();
    } finally {
      const ms = performance.now() - start;
      // The route pattern, not the path: one series per endpoint whatever clients send.
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics?.httpRequests.inc({ route, method: ctx.method, status: String(ctx.status) });
      metrics?.httpDuration.observe({ route }, ms / 1000);
      // The path without its query: a query may carry an OAuth code or state.
      logger.info({ reqId: ctx.state['reqId'], method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms), ip: ctx.ip, ...(ctx.state['actor'] ? { actor: ctx.state['actor'] } : {}), ...(ctx.state['errorCode'] ? { code: ctx.state['errorCode'] } : {}) }, 'request');
    }
  };
}

