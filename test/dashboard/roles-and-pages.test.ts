import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS, download, settled } from './browser.js';
import { BRAND, dashboardSuite, PEOPLE } from './fixture.js';

/** Every page of the navigation, by path, as an administrator who is also a security officer sees them. */
const PAGES = ['stores', 'people', 'tokens', 'models', 'stations', 'catalog', 'catalog/hello-demo', 'keys', 'ceremonies', 'issuance', 'appliances', 'audit'];
const WIDTHS = [1280, 390] as const;

/** Controls that change something: buttons and forms in the page's main part. */
const changeControls = (page: Page) => page.locator('main button, main form').count();

describe('the dashboard by role, and each page at both widths', () => {
  const suite = dashboardSuite();

  it('shows a Viewer no change controls, and the API refuses a change forged from their page', async () => {
    const { page, problems } = await suite.visit('vera', 'catalog');
    await settled(page);
    // The navigation lists only what a Viewer may read.
    const nav = await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link').allTextContents();
    expect(nav).toEqual(['Stores', 'Tokens', 'Models', 'Catalog']);
    await page.getByRole('table', { name: 'Snaps' }).getByRole('link', { name: 'hello-demo' }).waitFor();
    expect(await changeControls(page)).toBe(0);
    await page.getByRole('table', { name: 'Snaps' }).getByRole('link', { name: 'hello-demo' }).click();
    await page.getByRole('table', { name: 'Revisions' }).waitFor();
    await settled(page);
    expect(await changeControls(page)).toBe(0);
    // The same session, with its CSRF token, asks for what the policy refuses a Viewer.
    const forged = await page.evaluate(async (brand) => {
      const me = (await (await fetch('/api/v1/me')).json()) as { csrfToken: string };
      const res = await fetch(`/api/v1/stores/${brand}/snaps/hello-demo/revisions/1/review`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken }, body: '{"approve":true}' });
      return { status: res.status, body: (await res.json()) as { code: string } };
    }, BRAND);
    expect(forged.status).toBe(403);
    const status = await suite.d.api<{ revisions: Array<{ status: string }> }>('alice', `api/v1/stores/${BRAND}/snaps/hello-demo`);
    expect(status.revisions[0]!.status).toBe('needs-review');
    expect(problems.list).toEqual([expect.stringMatching(/^HTTP 403: POST .*\/review$/), expect.stringMatching(/^console: .*403/)]);
  });

  it('gives a Viewer the model assertion to build an image with, as the API does', async () => {
    const { page, problems } = await suite.visit('vera', 'models');
    const link = page.getByRole('table', { name: 'Models' }).getByRole('link', { name: 'Download the model assertion of demo-model' });
    const file = await download(page, () => link.click());
    expect(file.name).toBe('demo-model.model');
    const res = await suite.d.fetchAs('vera', `api/v1/brands/${BRAND}/models/demo-model/assertion`);
    expect(file.bytes.equals(Buffer.from(await res.arrayBuffer()))).toBe(true);
    // A Viewer sees no stations: the page does not ask for them.
    await expect(page.getByRole('columnheader', { name: 'Stations' }).count()).resolves.toBe(0);
    expect(problems.list).toEqual([]);
  });

  it('refuses a change sent from an administrator’s page without the CSRF header', async () => {
    const { page } = await suite.visit('alice', 'people');
    const forged = await page.evaluate(async (brand) => {
      const res = await fetch(`/api/v1/stores/${brand}/grants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'vera@demo.test', role: 'admin' }) });
      return { status: res.status, body: (await res.json()) as { code: string } };
    }, BRAND);
    expect(forged).toEqual({ status: 403, body: expect.objectContaining({ code: 'ERR_CSRF' }) });
    const grants = await suite.d.api<{ items: Array<{ person: { email: string }; role: string }> }>('alice', `api/v1/stores/${BRAND}/grants`);
    expect(grants.items.filter((g) => g.person.email === PEOPLE.vera.email).map((g) => g.role)).toEqual(['viewer']);
  });

  it('is usable from the keyboard at 390 pixels: the menu opens, its links are reachable and announce the current page', async () => {
    const { page } = await suite.visit('alice', 'stores', { viewport: { width: 390, height: 844 } });
    const menu = page.getByRole('button', { name: 'Menu' });
    await expect(page.getByRole('navigation', { name: 'Dashboard' }).isVisible()).resolves.toBe(false);
    await menu.focus();
    await page.keyboard.press('Enter');
    await expect(menu.getAttribute('aria-expanded')).resolves.toBe('true');
    const link = page.getByRole('link', { name: 'Keys' });
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${suite.d.sso.admin}keys`);
    // The menu closes on the new page, whose heading takes the focus so a screen reader announces it.
    await expect(menu.getAttribute('aria-expanded')).resolves.toBe('false');
    await expect(page.locator('nav a[href="/keys"]').getAttribute('aria-current')).resolves.toBe('page');
    await expect(page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id)).resolves.toBe('page-title');
  });

  it('renders every page at 1280 and 390 pixels without console errors, failed requests or other origins', async () => {
    // Both widths at once, each in its own signed-in context: the pages wait on the vault more than on the processor.
    const seen = await Promise.all(
      WIDTHS.map(async (width) => {
        const { page, problems } = await suite.visit('alice', 'stores', { viewport: { width, height: width > 500 ? 900 : 844 } });
        // Settled first: leaving a page mid-load aborts its requests, which is the test's doing, not the page's.
        await settled(page);
        for (const path of PAGES) {
          await page.goto(`${suite.d.sso.admin}${path}`);
          await page.locator('#page-title').waitFor();
          await settled(page);
          if (path === 'issuance') await page.locator('.chart canvas').waitFor();
          await expect(page.locator('main [role="alert"]').count(), `an error on ${path} at ${width} px`).resolves.toBe(0);
          await page.screenshot({ path: join(ARTIFACTS, `${path.replace(/\//g, '-')}-${width}.png`), fullPage: true });
        }
        return { width, problems: problems.list };
      }),
    );
    expect(seen).toEqual(WIDTHS.map((width) => ({ width, problems: [] })));
  });
});
