import { describe, expect, it } from 'vitest';
import { DASHBOARD_CSP } from '../../src/http/admin/dashboard.js';
import { download, settled } from './browser.js';
import { BRAND, dashboardSuite, PEOPLE } from './fixture.js';

/**
 * The dashboard's main tasks in Debian's headless Chromium against a real
 * vault (SoftHSM2, SQLite), each person signed in through the test OpenID
 * provider; every task is checked on the page and then in the API's state.
 */
describe('the dashboard in a real browser', () => {
  const suite = dashboardSuite();

  it('sends a signed-out person to sign in and back to the page asked for, served under a strict CSP', async () => {
    const { page } = await suite.visit('alice', 'catalog', { fresh: true });
    await expect(page.locator('h1').textContent()).resolves.toBe('Catalog');
    const index = await page.request.get(`${suite.d.sso.admin}ceremonies`);
    expect(index.headers()['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(index.headers()['cache-control']).toBe('no-cache');
    const asset = (await page.locator('script[src^="/assets/"]').getAttribute('src'))!;
    expect((await page.request.get(`${suite.d.sso.admin}${asset.slice(1)}`)).headers()['cache-control']).toContain('immutable');
    // The API keeps its JSON 404s; only the dashboard's own paths get index.html.
    expect((await page.request.get(`${suite.d.sso.admin}api/v1/nothing`)).status()).toBe(404);
  });

  it('grants a role as an administrator, and the API then reports it', async () => {
    const { page, problems } = await suite.visit('alice', 'people');
    const form = page.getByRole('form', { name: 'Grant a role' });
    await form.getByLabel('Email').fill(PEOPLE.petra.email);
    await form.getByLabel('Role').selectOption('publisher');
    await form.getByRole('button', { name: 'Grant' }).click();
    await expect(form.getByRole('status').textContent()).resolves.toBe(`Granted publisher to ${PEOPLE.petra.email}.`);
    await page.getByRole('cell', { name: /Petra Publisher/ }).waitFor();
    const grants = await suite.d.api<{ items: Array<{ person: { email: string }; role: string }> }>('alice', `api/v1/stores/${BRAND}/grants`);
    expect(grants.items).toContainEqual(expect.objectContaining({ person: expect.objectContaining({ email: PEOPLE.petra.email }), role: 'publisher' }));
    expect(problems.list).toEqual([]);
  });

  it('approves a revision from the review queue and releases it to stable', async () => {
    const { page, problems } = await suite.visit('alice', 'catalog');
    await page.getByRole('link', { name: 'hello-demo revision 1' }).click();
    await page.waitForURL(`${suite.d.sso.admin}catalog/hello-demo`);
    await page.getByRole('button', { name: 'Approve revision 1' }).click();
    await page.getByText('Revision 1 approved.').waitFor();
    const release = page.getByRole('form', { name: 'Release a revision' });
    await release.getByLabel('Revision').selectOption('1');
    await release.getByLabel('Channel', { exact: true }).fill('stable');
    await release.getByRole('button', { name: 'Release' }).click();
    await release.getByText('Released revision 1 to stable.').waitFor();
    await page.getByRole('table', { name: 'Channel map' }).getByRole('cell', { name: 'stable' }).waitFor();
    const status = await suite.d.api<{ 'channel-map': Array<{ channel: string; revision: number }>; revisions: Array<{ revision: number; status: string; reviewedBy: string }> }>('alice', `api/v1/stores/${BRAND}/snaps/hello-demo`);
    expect(status.revisions[0]).toMatchObject({ revision: 1, status: 'approved', reviewedBy: PEOPLE.alice.email });
    expect(status['channel-map']).toContainEqual(expect.objectContaining({ channel: 'latest/stable', revision: 1 }));
    expect(problems.list).toEqual([]);
  });

  it('shows a ceremony in full and approves it as a second officer', async () => {
    const { page, problems } = await suite.visit('oscar', 'ceremonies');
    const card = page.getByRole('article', { name: new RegExp(`#${suite.d.ceremonyId} key.create`) });
    await card.waitFor();
    await expect(card.getByRole('definition').allTextContents()).resolves.toEqual(expect.arrayContaining(['serials', BRAND]));
    await expect(card.getByText(`Proposed by ${PEOPLE.olga.email}`).count()).resolves.toBe(1);
    await card.getByRole('button', { name: `Approve ceremony ${suite.d.ceremonyId}` }).click();
    await page.getByText(`Ceremony ${suite.d.ceremonyId} approved; it needs more approvals.`).waitFor();
    await card.getByText('You approved this.').waitFor();
    const c = await suite.d.api<{ approvals: Array<{ approver: string }>; state: string }>('olga', `api/v1/brands/${BRAND}/ceremonies/${suite.d.ceremonyId}`);
    expect(c.approvals.map((a) => a.approver)).toEqual([PEOPLE.oscar.email]);
    expect(c.state).toBe('proposed');
    expect(problems.list).toEqual([]);
  });

  it('filters the registration report by model and downloads the same report as CSV', async () => {
    const { page, problems } = await suite.visit('alice', 'issuance');
    const filters = page.getByRole('form', { name: 'Filter the report' });
    await filters.getByLabel('Model').fill('demo-model');
    await filters.getByRole('button', { name: 'Show' }).click();
    const row = page.getByRole('table', { name: 'Registrations' }).getByRole('row', { name: /demo-model/ });
    await row.waitFor();
    const devices = String(suite.d.serials.length);
    await expect(row.getByRole('cell').allTextContents()).resolves.toEqual(expect.arrayContaining(['demo-model', 'issued', devices]));
    await page.locator('.chart canvas').waitFor();
    const csv = (await download(page, () => filters.getByRole('link', { name: 'Download CSV' }).click())).bytes.toString('utf8');
    const res = await suite.d.fetchAs('alice', `api/v1/brands/${BRAND}/reports/registrations.csv?model=demo-model&by=hour`);
    expect(csv).toBe(await res.text());
    expect(csv).toMatch(new RegExp(`demo-model.*issued.*${devices}`));
    expect(problems.list).toEqual([]);
  });

  it('finds a device’s serial in the issuance log, by its beginning and exactly, and downloads that search as CSV', async () => {
    const { serials } = suite.d;
    const wanted = serials[1]!;
    const { page, problems } = await suite.visit('alice', 'issuance');
    const find = page.getByRole('form', { name: 'Find serials' });
    const results = page.getByRole('table', { name: /^Serials issued/ });
    const serialsShown = () => results.locator('tbody tr td:first-child').allTextContents();
    // The beginning the serials share, then *: every registered device, newest first.
    const prefix = `${wanted.slice(0, 5)}*`;
    await find.getByLabel('Serial').fill(prefix);
    await find.getByRole('button', { name: 'Find' }).click();
    await expect.poll(serialsShown, { timeout: 15_000 }).toEqual([...serials].reverse());
    await find.getByLabel('Serial').fill(wanted);
    await find.getByRole('button', { name: 'Find' }).click();
    await expect.poll(serialsShown, { timeout: 15_000 }).toEqual([wanted]);
    const cells = await results.getByRole('row', { name: new RegExp(wanted) }).getByRole('cell').allTextContents();
    expect(cells.slice(0, 4)).toEqual([wanted, 'demo-model', expect.any(String), 'issued']);
    const file = await download(page, () => find.getByRole('link', { name: 'Download CSV' }).click());
    expect(file.name).toBe(`issuances-${BRAND}.csv`);
    const csv = file.bytes.toString('utf8');
    const [header, row, end, ...more] = csv.split('\n');
    expect(header).toBe('id,serial,model,station,outcome,issued_at,device_key,signing_key,origin,original');
    expect(row!.split(',').slice(1, 3)).toEqual([wanted, 'demo-model']);
    expect([end, ...more]).toEqual(['']);
    // The API agrees: the same search answers the same row, and the same CSV.
    const api = await suite.d.api<{ items: Array<{ serial: string; outcome: string }>; next: number | null }>('alice', `api/v1/brands/${BRAND}/issuances?serial=${encodeURIComponent(wanted)}`);
    expect(api).toEqual({ items: [expect.objectContaining({ serial: wanted, outcome: 'issued' })], next: null });
    expect(await (await suite.d.fetchAs('alice', `api/v1/brands/${BRAND}/issuances.csv?serial=${encodeURIComponent(wanted)}`)).text()).toBe(csv);
    expect(problems.list).toEqual([]);
  });

  it('shows the audit chain verified, as the API reports it, and verifies it again on request', async () => {
    const { page, problems } = await suite.visit('olga', 'audit');
    const chain = page.getByRole('region', { name: 'Chain verification' });
    const status = chain.getByRole('status');
    await status.getByText('Verified').waitFor();
    await chain.getByRole('button', { name: 'Verify again' }).click();
    await chain.getByRole('button', { name: 'Verify again' }).waitFor();
    await settled(page);
    const verdict = await suite.d.api<{ ok: boolean; entries: number; signedUpTo: number }>('olga', `api/v1/brands/${BRAND}/audit/verify`);
    expect(verdict.ok).toBe(true);
    await expect(status.textContent()).resolves.toContain(`the chain holds over all ${verdict.entries} entries`);
    expect(problems.list).toEqual([]);
  });

  it('says a vault that serves no appliances is not a central, and shows nothing it cannot do there', async () => {
    const path = `/api/v1/brands/${BRAND}/appliances`;
    const { page, problems } = await suite.visit('alice', 'stores', { expected: [{ status: 404, method: 'GET', path }] });
    await settled(page);
    // An appliance's admin API has no appliance routes: the list is answered as any unserved path is, by this same vault.
    await page.route(`${suite.d.origin}${path}`, async (route) => route.fulfill({ response: await route.fetch({ url: `${suite.d.origin}/api/v1/brands/${BRAND}/appliances-not-served` }) }));
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Appliances and sync' }).click();
    await page.getByText('This instance is not a central: it serves no appliances.').waitFor();
    await settled(page);
    await expect(page.getByRole('table', { name: 'Appliances' }).count()).resolves.toBe(0);
    await expect(page.getByRole('form', { name: 'New appliance' }).count()).resolves.toBe(0);
    await expect(page.getByRole('region', { name: 'Serial conflicts' }).getByText('No conflicts').count()).resolves.toBe(1);
    expect(problems.list).toEqual([]);
    expect(problems.expected).toEqual([`HTTP 404: GET ${suite.d.origin}${path}`, expect.stringMatching(/^console: Failed to load resource: .* 404/)]);
  });
});
