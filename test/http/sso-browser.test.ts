import { rmSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import type { TestProvider } from '../support/oidc.js';
import { startSsoVault, testDataDir, type AdminTestVault, type SsoTestVault } from '../support/vault.js';

/** Debian's Chromium, installed by scripts/setup-system.sh --test; without it this test fails, it never skips. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/**
 * Sign-in in a real browser: headless Chromium follows the redirects,
 * keeps the cookies by its own rules (HttpOnly, SameSite) and sends what a
 * person's browser would.
 */
describe('single sign-on in a real browser (headless Chromium)', () => {
  let dir: string;
  let sso: SsoTestVault;
  let v: AdminTestVault;
  let idp: TestProvider;
  let admin: string;
  let browser: Browser;

  beforeAll(async () => {
    dir = testDataDir();
    sso = await startSsoVault(dir, { alice: { email: 'alice@example.test', email_verified: true, name: 'Alice' } });
    ({ v, idp, admin } = sso);
    await v.vault.accounts.addPerson(OPERATOR, 'alice@example.test', 'Alice');
    await v.vault.accounts.grant(OPERATOR, 'demo-brand', 'alice@example.test', 'admin');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await sso?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in, keeps the session cookie from scripts, refuses a cross-origin change, and signs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    idp.nextLogin = 'alice';
    const landed = await page.goto(`${admin}auth/login?return_to=/api/v1/me`);
    expect(page.url()).toBe(`${admin}api/v1/me`);
    expect(landed?.status()).toBe(200);
    const me = JSON.parse((await page.textContent('body')) ?? '') as { person: { email: string }; csrfToken: string };
    expect(me.person.email).toBe('alice@example.test');

    const session = (await context.cookies(admin)).find((c) => c.name === 'sv_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).not.toContain('sv_session');

    // A page on another origin (the provider's here) posts to the admin API with the person's cookies: refused, nothing made.
    const other = await context.newPage();
    await other.goto(`${idp.issuer}/.well-known/openid-configuration`);
    await other.evaluate(async (target) => {
      await fetch(`${target}api/v1/people`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"email":"intruder@example.test"}' });
    }, admin);
    expect(await v.vault.db('people').where({ email: 'intruder@example.test' }).first()).toBeUndefined();
    // Stopped by the CSRF check (the cookie did go along: same site, other port).
    expect(v.logs()).toMatch(/"method":"POST","path":"\/api\/v1\/people","status":403[^\n]*"code":"ERR_CSRF"/);

    // The page itself, with its CSRF token, may make changes.
    const made = await page.evaluate(async (csrf) => {
      const res = await fetch('/api/v1/people', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ email: 'bob@example.test' }) });
      return res.status;
    }, me.csrfToken);
    expect(made).toBe(201);

    const out = await page.evaluate(async (csrf) => (await fetch('/auth/logout', { method: 'POST', headers: { 'x-csrf-token': csrf }, redirect: 'manual' })).type, me.csrfToken);
    expect(out).toBe('opaqueredirect');
    expect((await context.cookies(admin)).find((c) => c.name === 'sv_session')).toBeUndefined();
    const after = await page.goto(`${admin}api/v1/me`);
    expect(after?.status()).toBe(401);
    await context.close();
  });
});
