import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import getRawBody from 'raw-body';
import { AccountsError } from '../../accounts/errors.js';
import type { AccountsService } from '../../accounts/service.js';
import type { OidcSignIn, PendingLogin } from '../../accounts/sso.js';
import { HttpError, describeError } from '../errors.js';
import { readCookie, serializeCookie, type CookieSealer } from './cookies.js';
import { SESSION_COOKIE } from './mount.js';

const LOGIN_COOKIE = 'sv_login';
const LOGIN_TTL_S = 600;

export interface SignInOptions {
  readonly accounts: AccountsService;
  /** Absent when single sign-on is not configured: the routes then say so. */
  readonly sso: OidcSignIn | undefined;
  readonly sealer: CookieSealer;
  /** The URL browsers reach the admin listener at; https makes cookies Secure. */
  readonly publicUrl: URL;
  readonly sessionTtlMs: number;
  readonly logger: Logger;
}

const DEFAULT_RETURN = '/api/v1/me';
/** The sign-out form carries one CSRF token. */
const LOGOUT_FORM_LIMIT = 4096;

/** Only paths on this listener: `return_to` must not become an open redirect. */
function safeReturnTo(v: unknown): string {
  return typeof v === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(v) ? v : DEFAULT_RETURN;
}

/**
 * Where the browser goes after signing in: the path resolved under the
 * public URL, then compared with it by origin and path prefix. A path such
 * as `/https:evil.example/` or `/javascript:…` resolves elsewhere and is
 * replaced by the default.
 */
export function returnUrl(returnTo: string, publicUrl: URL): string {
  const resolve = (path: string) => {
    try {
      return new URL(path.replace(/^\/+/, ''), publicUrl);
    } catch {
      return undefined;
    }
  };
  const target = resolve(returnTo);
  if (target && target.origin === publicUrl.origin && target.pathname.startsWith(publicUrl.pathname)) return target.href;
  return (resolve(DEFAULT_RETURN) as URL).href;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A refusal a person in a browser can read; the operator gets the cause in the log. */
function renderPage(ctx: Context, e: unknown, logger: Logger): void {
  const { status, code, message } = describeError(e);
  ctx.state['errorCode'] = code;
  const cause = (e as { cause?: unknown }).cause;
  logger.warn({ code, reason: message, ...(cause instanceof Error ? { cause: cause.message } : {}), ...(status >= 500 && !(e instanceof AccountsError) ? { err: e } : {}) }, 'sign-in refused');
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = `<!doctype html><meta charset="utf-8"><title>Sign-in refused</title><h1>Sign-in refused</h1><p>${escapeHtml(message)}</p><p><code>${code}</code></p><p><a href="/auth/login">Try again</a></p>`;
}

/** Single sign-on: /auth/login sends the browser to the provider, /auth/callback opens a session, /auth/logout ends it. */
export function mountSignIn(router: Router, o: SignInOptions): void {
  const secure = o.publicUrl.protocol === 'https:';
  const requireSso = () => {
    if (!o.sso) throw new AccountsError('ERR_SSO_NOT_CONFIGURED', 'single sign-on is not configured on this vault: set "sso" in config.json, or use an access token');
    return o.sso;
  };

  router.get('/auth/login', async function startLogin(ctx: Context) {
    try {
      const { url, pending } = await requireSso().begin();
      ctx.append('Set-Cookie', serializeCookie(LOGIN_COOKIE, o.sealer.seal('login', { ...pending, returnTo: safeReturnTo(ctx.query['return_to']), exp: Date.now() + LOGIN_TTL_S * 1000 }), { maxAgeSeconds: LOGIN_TTL_S, secure }));
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(url);
    } catch (e) {
      renderPage(ctx, e, o.logger);
    }
  });

  router.get('/auth/callback', async function finishLogin(ctx: Context) {
    try {
      const sso = requireSso();
      const pending = o.sealer.open<PendingLogin & { returnTo: string; exp: number }>('login', readCookie(ctx.get('cookie'), LOGIN_COOKIE));
      if (!pending || pending.exp < Date.now()) throw new AccountsError('ERR_SSO_FAILED', 'this sign-in was not started here or took longer than 10 minutes: start again');
      ctx.append('Set-Cookie', serializeCookie(LOGIN_COOKIE, '', { maxAgeSeconds: 0, secure }));
      // The URL the provider redirected to, as registered (the public one, behind any proxy), with its parameters.
      const callbackUrl = new URL('auth/callback', o.publicUrl);
      callbackUrl.search = ctx.querystring;
      const identity = await sso.finish(callbackUrl, pending);
      const { sessionId } = await o.accounts.signIn(identity, ctx.ip);
      ctx.state['actor'] = identity.email;
      ctx.append('Set-Cookie', serializeCookie(SESSION_COOKIE, sessionId, { maxAgeSeconds: o.sessionTtlMs / 1000, secure }));
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(returnUrl(pending.returnTo, o.publicUrl));
    } catch (e) {
      renderPage(ctx, e, o.logger);
    }
  });

  router.post('/auth/logout', async function logout(ctx: Context) {
    const sessionId = readCookie(ctx.get('cookie'), SESSION_COOKIE);
    // The CSRF token comes as a header (scripts) or a form field (a plain HTML form).
    let given = ctx.get('x-csrf-token') || undefined;
    if (!given && ctx.is('application/x-www-form-urlencoded')) {
      let text: string;
      try {
        text = await getRawBody(ctx.req, { limit: LOGOUT_FORM_LIMIT, length: ctx.get('content-length') || undefined, encoding: 'utf8' });
      } catch (e) {
        if ((e as { type?: string }).type === 'entity.too.large') throw new HttpError('ERR_BODY_TOO_LARGE', `the sign-out form is larger than ${LOGOUT_FORM_LIMIT} bytes`);
        throw new HttpError('ERR_BODY_INVALID', 'cannot read the sign-out form');
      }
      const form = new URLSearchParams(text);
      given = form.get('csrf_token') ?? undefined;
    }
    if (sessionId) {
      if (!o.sealer.checkCsrf(sessionId, given)) throw new AccountsError('ERR_CSRF', 'missing or wrong CSRF token: read csrfToken from GET /api/v1/me');
      await o.accounts.signOut(sessionId, ctx.ip);
    }
    ctx.append('Set-Cookie', serializeCookie(SESSION_COOKIE, '', { maxAgeSeconds: 0, secure }));
    ctx.status = 303;
    ctx.redirect((await o.sso?.endSessionUrl()) ?? '/');
  });
}
