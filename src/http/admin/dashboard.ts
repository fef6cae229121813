import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Next } from 'koa';

/**
 * What the dashboard's pages may load: only this origin, no inline script
 * or style, no frames. Scripts set styles through the DOM (allowed); form
 * targets are not restricted because the sign-out form is redirected on
 * to the OpenID provider's end-session page.
 */
export const DASHBOARD_CSP = ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"].join('; ');

/** Paths the dashboard never answers: the API, sign-in, metrics and health keep their own 404s. */
const NOT_OURS = /^\/(api|auth|metrics|health)(\/|$)/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite names built assets by content hash: they never change under one name. */
const HASHED = /^\/assets\//;

/**
 * The built dashboard, `dist/web` of the package: found from this module
 * upwards to the directory holding package.json, so the same code finds it
 * run from source (tests), from dist/ and from the snap.
 */
export function defaultWebRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web');
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), 'web');
    dir = up;
  }
}

function fileUnder(root: string, path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  const file = resolve(root, `.${decoded}`);
  if (file !== root && !file.startsWith(root + sep)) return undefined;
  try {
    return statSync(file).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

function secure(ctx: Context): void {
  ctx.set('Content-Security-Policy', DASHBOARD_CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'same-origin');
  ctx.set('X-Frame-Options', 'DENY');
}

/**
 * Serves the dashboard's static files at `/`; any other GET that is not the
 * API's gets index.html, so a client route (/catalog/demo-brand) deep-links.
 * Mounted after the router: only requests no route answered reach it.
 */
export function serveDashboard(root: string = defaultWebRoot()) {
  const webRoot = resolve(root);
  return async function dashboard(ctx: Context, next: Next) {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || NOT_OURS.test(ctx.path)) return next();
    const asset = ctx.path === '/' ? undefined : fileUnder(webRoot, ctx.path);
    const index = join(webRoot, 'index.html');
    if (!asset && HASHED.test(ctx.path)) return next();
    if (!asset && !existsSync(index)) {
      ctx.status = 503;
      ctx.type = 'text/plain; charset=utf-8';
      // Where it looked stays off the wire: an install path is nobody's business but the operator's.
      ctx.body = 'the dashboard is not built: run "npm run build:web" in the serial-vault package\n';
      return;
    }
    const file = asset ?? index;
    secure(ctx);
    ctx.type = TYPES[extname(file)] ?? 'application/octet-stream';
    // index.html names the current hashed assets: always ask again for it.
    ctx.set('Cache-Control', asset && HASHED.test(ctx.path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.body = await readFile(file);
  };
}
