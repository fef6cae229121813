import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { defaultWebRoot } from '../../src/http/admin/dashboard.js';
import type { SsoTestVault } from '../support/vault.js';

/** Debian's Chromium, installed by scripts/setup-system.sh --test; without it these tests fail, they never skip. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'dashboard');

/** The built dashboard: `npm run build` makes it; a checkout that has not built yet builds it here once. */
export function ensureBuilt(): void {
  if (!existsSync(join(defaultWebRoot(), 'index.html'))) execFileSync('npm', ['run', 'build:web'], { stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** What went wrong while a page was used: console errors, requests that failed or were answered 4xx/5xx, requests to other origins. */
export interface Problems {
  readonly list: string[];
  /** Refusals the test declared the page handles (and Chromium's own console line for each): not problems, but the test may check they came. */
  readonly expected: string[];
}

/** An answer the page is meant to get and handle (a route an instance does not serve): its status, method and path. */
export interface Expected {
  readonly status: number;
  readonly method: string;
  readonly path: string;
}

/** Chromium logs every 4xx/5xx answer to the console itself, whatever the page does with it. */
const RESOURCE_LOG = /^Failed to load resource: the server responded with a status of (\d+)/;

export function watch(page: Page, origin: string, expected: readonly Expected[] = []): Problems {
  const list: string[] = [];
  const handled: string[] = [];
  const isExpected = (status: number, method: string | undefined, url: string) => {
    const u = new URL(url);
    return u.origin === origin && expected.some((e) => e.status === status && (method === undefined || e.method === method) && e.path === u.pathname);
  };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const status = RESOURCE_LOG.exec(m.text())?.[1];
    // The console line names no method: the response event checks it.
    if (status && m.location().url && isExpected(Number(status), undefined, m.location().url)) handled.push(`console: ${m.text()}`);
    else list.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => list.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => list.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) list.push(`external: ${r.url()}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const line = `HTTP ${r.status()}: ${r.request().method()} ${r.url()}`;
    (isExpected(r.status(), r.request().method(), r.url()) ? handled : list).push(line);
  });
  return { list, expected: handled };
}

/** What a click on the page downloads: the file name it suggests, and its bytes. */
export async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
  const [file] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: file.suggestedFilename(), bytes: readFileSync((await file.path())!) };
}

/** The cookies of a session signed in before: a new context with them is signed in without the provider's round trip. */
export type Session = Awaited<ReturnType<BrowserContext['storageState']>>;

/**
 * Signs `who` in through the test OpenID provider, as a person would:
 * opening a dashboard page while signed out sends the browser to sign-in
 * and back to that page. With `session` (from an earlier sign-in) the
 * context starts with its cookie and opens the page directly.
 */
export async function signedIn(browser: Browser, sso: SsoTestVault, who: string, path = 'stores', viewport = { width: 1280, height: 900 }, session?: Session): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, acceptDownloads: true, ...(session ? { storageState: session } : {}) });
  const page = await context.newPage();
  track(page);
  // Also with a session: should it have ended, the provider signs the same person in again.
  sso.idp.nextLogin = who;
  await page.goto(`${sso.admin}${path}`);
  await page.waitForURL(`${sso.admin}${path}`);
  await page.locator('#page-title').waitFor();
  return { context, page };
}

const inFlight = new WeakMap<Page, Set<Request>>();

/** Counts the page's requests in flight, for `settled`. */
function track(page: Page): Set<Request> {
  let open = inFlight.get(page);
  if (!open) {
    const requests = new Set<Request>();
    page.on('request', (r) => requests.add(r));
    page.on('requestfinished', (r) => requests.delete(r));
    page.on('requestfailed', (r) => requests.delete(r));
    inFlight.set(page, (open = requests));
  }
  return open;
}

/** How long the page must stay quiet (no request in flight, no loading indicator) to count as settled. */
const QUIET_MS = 150;

/**
 * The page has settled: no request in flight and no loading indicator,
 * twice over a short quiet time (a page that loads in steps starts its
 * next request within it). Quicker than `networkidle`, which waits 500 ms
 * after the last request every time.
 */
export async function settled(page: Page, timeoutMs = 10_000): Promise<void> {
  const open = track(page);
  const quiet = async () => open.size === 0 && (await page.locator('.loading').count()) === 0;
  for (let until = Date.now() + timeoutMs; Date.now() < until; ) {
    if (await quiet()) {
      await page.waitForTimeout(QUIET_MS);
      if (await quiet()) return;
    } else await page.waitForTimeout(25);
  }
  throw new Error(`the page did not settle in ${timeoutMs} ms: ${[...open].map((r) => `${r.method()} ${r.url()}`).join(', ') || 'a loading indicator stays'}`);
}
