import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { OidcSignIn } from '../../src/accounts/sso.js';
import { returnUrl } from '../../src/http/admin/sign-in.js';
import { freePort } from '../support/net.js';
import { CookieBrowser, type TestProvider } from '../support/oidc.js';
import { startSsoVault, testDataDir, type AdminTestVault, type SsoTestVault } from '../support/vault.js';

/**
 * Single sign-on end to end: the vault's admin listener and a real OpenID
 * Connect provider (oidc-provider) on loopback, the browser played by a
 * client that follows redirects and keeps cookies.
 */
describe('single sign-on through OpenID Connect', () => {
  let dir: string;
  let sso: SsoTestVault;
  let v: AdminTestVault;
  let idp: TestProvider;
  let admin: string;

  beforeAll(async () => {
    dir = testDataDir();
    sso = await startSsoVault(dir, {
      alice: { email: 'Alice@Example.test', email_verified: true, name: 'Alice' },
      mallory: { email: 'mallory@example.test', email_verified: false, name: 'Mallory' },
      stranger: { email: 'stranger@example.test', email_verified: true, name: 'Stranger' },
    });
    ({ v, idp, admin } = sso);
    await v.vault.accounts.addPerson(OPERATOR, 'alice@example.test', 'Alice');
    await v.vault.accounts.grant(OPERATOR, 'demo-brand', 'alice@example.test', 'admin');
    await v.vault.accounts.addPerson(OPERATOR, 'mallory@example.test', 'Mallory');
  }, 120_000);

  afterAll(async () => {
    await sso?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs a person in: login, the provider, callback, a session, then logout ends it', async () => {
    const browser = new CookieBrowser();
    idp.nextLogin = 'alice';
    const landed = await browser.go(`${admin}auth/login?return_to=/api/v1/me`);
    expect(landed.res.status).toBe(200);
    expect(landed.url).toBe(`${admin}api/v1/me`);
    // It went through the provider and back through the callback.
    expect(browser.visited.some((u) => u.startsWith(`${idp.issuer}/auth?`) && u.includes('code_challenge_method=S256'))).toBe(true);
    expect(browser.visited.some((u) => u.startsWith(`${admin}auth/callback?code=`))).toBe(true);
    const me = JSON.parse(landed.text) as { person: { email: string }; roles: Record<string, string[]>; csrfToken: string };
    expect(me.person.email).toBe('alice@example.test');
    expect(me.roles['demo-brand']).toEqual(['admin']);

    const origin = new URL(admin).origin;
    const session = browser.cookie(origin, 'sv_session');
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(browser.cookie(origin, 'sv_login')).toBeUndefined();

    // The session works for the API, with the CSRF token for changes.
    const made = await browser.go(`${admin}api/v1/people`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken }, body: JSON.stringify({ email: 'bob@example.test' }) });
    expect(made.res.status).toBe(201);
    const audit = await v.vault.db('audit_log').where({ action: 'person.add', actor: 'alice@example.test' }).first();
    expect(audit).toMatchObject({ via: 'session' });

    // Logout needs the CSRF token too, ends the session here, and goes on to the provider's end-session page.
    const refused = await fetch(`${admin}auth/logout`, { method: 'POST', headers: { cookie: `sv_session=${session}` }, redirect: 'manual' });
    expect(refused.status).toBe(403);
    const out = await fetch(`${admin}auth/logout`, { method: 'POST', headers: { cookie: `sv_session=${session}`, 'x-csrf-token': me.csrfToken }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toMatch(new RegExp(`^${idp.issuer}/session/end`));
    expect(out.headers.getSetCookie().join()).toMatch(/sv_session=;.*Max-Age=0/);
    const after = await fetch(`${admin}api/v1/me`, { headers: { cookie: `sv_session=${session}` } });
    expect(after.status).toBe(401);
    const trail = (await v.vault.db('audit_log').where({ actor: 'alice@example.test' }).orderBy('id').select('action')).map((r) => r.action);
    expect(trail).toEqual(['session.create', 'person.add', 'session.end']);
  });

  it('sets the session cookie HttpOnly and SameSite, never readable by scripts', async () => {
    idp.nextLogin = 'alice';
    const login = await fetch(`${admin}auth/login`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    const pending = login.headers.getSetCookie()[0]!;
    expect(pending).toMatch(/^sv_login=[^;]+; Path=\/; Max-Age=600; SameSite=Lax; HttpOnly$/);
    const browser = new CookieBrowser();
    await browser.go(`${admin}auth/login`);
    const res = await fetch(`${admin}api/v1/me`, { headers: { cookie: `sv_session=${browser.cookie(new URL(admin).origin, 'sv_session')}` } });
    expect(res.status).toBe(200);
  });

  it('refuses an email the provider has not verified, and opens no session', async () => {
    const browser = new CookieBrowser();
    idp.nextLogin = 'mallory';
    const page = await browser.go(`${admin}auth/login`);
    expect(page.res.status).toBe(403);
    expect(page.res.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('ERR_EMAIL_NOT_VERIFIED');
    expect(page.text).toContain('mallory@example.test');
    expect(v.logs()).toMatch(/"code":"ERR_EMAIL_NOT_VERIFIED"[^\n]*"msg":"sign-in refused"/);
    expect(browser.cookie(new URL(admin).origin, 'sv_session')).toBeUndefined();
  });

  it('refuses someone the provider knows but no administrator added', async () => {
    const browser = new CookieBrowser();
    idp.nextLogin = 'stranger';
    const page = await browser.go(`${admin}auth/login`);
    expect(page.res.status).toBe(403);
    expect(page.text).toContain('ask a store administrator to add you');
    expect(browser.cookie(new URL(admin).origin, 'sv_session')).toBeUndefined();
  });

  it('refuses a callback that was not started here (state from elsewhere, or no login cookie)', async () => {
    const forged = await fetch(`${admin}auth/callback?code=abc&state=xyz&iss=${encodeURIComponent(idp.issuer)}`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('ERR_SSO_FAILED');

    // A real login cookie, but the state in the URL changed.
    const login = await fetch(`${admin}auth/login`, { redirect: 'manual' });
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const res = await fetch(`${admin}auth/callback?code=abc&state=not-the-one&iss=${encodeURIComponent(idp.issuer)}`, { headers: { cookie } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('ERR_SSO_FAILED');
  });

  it('sends only paths on the admin listener as return_to (no open redirect)', async () => {
    const browser = new CookieBrowser();
    idp.nextLogin = 'alice';
    const landed = await browser.go(`${admin}auth/login?return_to=//evil.example/x`);
    expect(landed.url).toBe(`${admin}api/v1/me`);
    // Paths that resolve to another origin once their slash is dropped never reach Location.
    for (const evil of ['/https:evil.example/x', '/javascript:alert(1)', '/ftp://evil.example/', 'ftp://evil.example/']) {
      const b = new CookieBrowser();
      idp.nextLogin = 'alice';
      const went = await b.go(`${admin}auth/login?return_to=${encodeURIComponent(evil)}`);
      expect(went.url, evil).toBe(`${admin}api/v1/me`);
      expect(b.visited.every((u) => !u.includes('evil.example') || u.startsWith(admin) || u.startsWith(idp.issuer)), evil).toBe(true);
    }
  });

  it('resolves return paths under a public URL with a path prefix, and only there', () => {
    const base = new URL('https://vault.example.com/prefix/');
    expect(returnUrl('/stores/acme', base)).toBe('https://vault.example.com/prefix/stores/acme');
    expect(returnUrl('/http:evil.example/', base)).toBe('https://vault.example.com/prefix/api/v1/me');
    // Same scheme as the base: a relative path, still on the vault.
    expect(returnUrl('/https:evil.example/', base)).toBe('https://vault.example.com/prefix/evil.example/');
    expect(returnUrl('/../other/', base)).toBe('https://vault.example.com/prefix/api/v1/me');
    expect(returnUrl('/javascript:alert(1)', base)).toBe('https://vault.example.com/prefix/api/v1/me');
  });

  it('refuses an oversized sign-out form with 413', async () => {
    const res = await fetch(`${admin}auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'sv_session=whatever' },
      body: `csrf_token=${'x'.repeat(10_000)}`,
      redirect: 'manual',
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('ERR_BODY_TOO_LARGE');
  });

  it('answers 503 when the provider cannot be reached, at login and at the callback', async () => {
    const port = await freePort();
    const down = new OidcSignIn({ issuer: `http://127.0.0.1:${port}`, clientId: 'x', redirectUri: `${admin}auth/callback`, scopes: 'openid email' });
    await expect(down.begin()).rejects.toMatchObject({ code: 'ERR_SSO_UNAVAILABLE' });

    // Discovery done, then the provider goes away before the code is exchanged.
    const login = await fetch(`${admin}auth/login`, { redirect: 'manual' });
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const state = new URL(login.headers.get('location')!).searchParams.get('state')!;
    await idp.close();
    const res = await fetch(`${admin}auth/callback?code=abc&state=${state}&iss=${encodeURIComponent(idp.issuer)}`, { headers: { cookie } });
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('ERR_SSO_UNAVAILABLE');
  });

  it('keeps session ids, authorization codes and the client secret out of the log', async () => {
    const logs = v.logs();
    expect(logs).toContain('"path":"/auth/callback"');
    expect(logs).not.toMatch(/code=|state=|sv_session=|sv_login=/);
    expect(logs).not.toContain(idp.clientSecret);
    for (const row of await v.vault.db('sessions').select('id_hash')) expect(logs).not.toContain(String(row.id_hash));
  });
});
