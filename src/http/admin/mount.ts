import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import getRawBody from 'raw-body';
import type { z } from 'zod';
import { AccountsError } from '../../accounts/errors.js';
import type { Principal } from '../../accounts/principal.js';
import type { AccountsService } from '../../accounts/service.js';
import { HttpError } from '../errors.js';
import { sendJson } from '../middleware.js';
import { readCookie, type CookieSealer } from './cookies.js';
import type { AdminRoute, FileAnswer } from './route.js';

export const SESSION_COOKIE = 'sv_session';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface MountOptions {
  readonly accounts: AccountsService;
  readonly sealer: CookieSealer;
  readonly maxBodyBytes: number;
}

/**
 * Who is calling: a bearer access token, or a browser session cookie. A
 * session must also send its CSRF token on anything that changes state
 * (a token cannot be sent by a cross-site form; a cookie can).
 */
export function authenticate(o: MountOptions) {
  return async function authenticateCaller(ctx: Context, next: Next) {
    const auth = ctx.get('authorization');
    let principal: Principal | undefined;
    if (auth) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      principal = m ? await o.accounts.authenticateToken(m[1] as string, ctx.ip) : undefined;
      if (!principal) {
        ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
        throw new AccountsError('ERR_UNAUTHENTICATED', 'the access token is not valid: it may be mistyped, expired or revoked');
      }
    } else {
      const sessionId = readCookie(ctx.get('cookie'), SESSION_COOKIE);
      principal = sessionId ? await o.accounts.authenticateSession(sessionId, ctx.ip) : undefined;
      if (!principal) {
        ctx.set('WWW-Authenticate', 'Bearer');
        throw new AccountsError('ERR_UNAUTHENTICATED', 'sign in first (/auth/login), or send an access token as "Authorization: Bearer <token>"');
      }
      if (!SAFE.has(ctx.method) && !o.sealer.checkCsrf(sessionId as string, ctx.get('x-csrf-token') || undefined)) {
        throw new AccountsError('ERR_CSRF', 'missing or wrong X-CSRF-Token header: read csrfToken from GET /api/v1/me');
      }
    }
    ctx.state['principal'] = principal;
    if (principal.kind === 'person') ctx.state['actor'] = principal.person.email;
    await next();
  };
}

function invalid(where: string, error: z.ZodError): HttpError {
  const details = error.issues.map((i) => {
    const field = [where, ...i.path.map(String)].join('.');
    return { code: 'ERR_INVALID_INPUT', field, message: `${field}: ${i.message}` };
  });
  return new HttpError('ERR_BODY_INVALID', details.map((d) => d.message).join('; '), details);
}

async function readJson(ctx: Context, maxBytes: number): Promise<unknown> {
  if (!ctx.is('application/json')) throw new HttpError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  let text: string;
  try {
    text = await getRawBody(ctx.req, { limit: maxBytes, encoding: 'utf8', length: ctx.get('content-length') || undefined });
  } catch (e) {
    if ((e as { type?: string }).type === 'entity.too.large') throw new HttpError('ERR_BODY_TOO_LARGE', `the body is larger than ${maxBytes} bytes`);
    throw new HttpError('ERR_BODY_INVALID', `cannot read the body: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError('ERR_BODY_INVALID', 'the body is not valid JSON');
  }
}

/** Puts every admin route on the router behind the same steps: authenticate, parse, check the policy, act. */
export function mountRoutes(router: Router, routes: readonly AdminRoute[], o: MountOptions): void {
  const authenticateCaller = authenticate(o);
  for (const r of routes) {
    const parseRequest = async function parseRequest(ctx: Context, next: Next) {
      const parse = (schema: z.ZodType | undefined, value: unknown, where: string) => {
        if (!schema) return undefined;
        const result = schema.safeParse(value);
        if (!result.success) throw invalid(where, result.error);
        return result.data;
      };
      ctx.state['parts'] = {
        params: parse(r.params, ctx.params, 'params'),
        query: parse(r.query, { ...ctx.query }, 'query'),
        body: r.body ? parse(r.body, await readJson(ctx, o.maxBodyBytes), 'body') : undefined,
      };
      await next();
    };
    const checkPolicy = async function checkPolicy(ctx: Context, next: Next) {
      await o.accounts.authorize(ctx.state['principal'] as Principal, r.action, r.target?.(ctx.state['parts']));
      await next();
    };
    const runAction = async function runAction(ctx: Context) {
      if (r.streamsBody && !ctx.is(r.streamsBody)) throw new HttpError('ERR_UNSUPPORTED_MEDIA_TYPE', `send the file as ${r.streamsBody}`);
      const result = await r.handle({ ...ctx.state['parts'], principal: ctx.state['principal'], ...(r.streamsBody ? { source: ctx.req } : {}) });
      if (r.answersFile) {
        const file = result as FileAnswer;
        ctx.status = 200;
        ctx.set('Content-Type', file.type);
        ctx.set('Content-Length', String(file.length));
        ctx.set('Content-Disposition', `attachment; filename="${file.filename}"`);
        ctx.body = file.body;
        return;
      }
      if (r.status === 204) {
        ctx.status = 204;
        return;
      }
      // The answer goes out as documented: unknown fields (hashes, internal ids) are dropped.
      sendJson(ctx, r.status, r.response ? r.response.parse(result) : result);
    };
    router[r.method](r.path, authenticateCaller, parseRequest, checkPolicy, runAction);
  }
}
