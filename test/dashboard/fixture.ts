import { createReadStream, rmSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import type { Role } from '../../src/accounts/roles.js';
import { OPERATOR_ACTOR } from '../../src/audit/unit-of-work.js';
import { registerDevice } from '../../src/cli/device-client.js';
import type { Vault } from '../../src/app.js';
import { buildSnap } from '../support/snaps.js';
import { deviceKeys, startSsoVault, testDataDir, type SsoTestVault } from '../support/vault.js';
import { ensureBuilt, launch, signedIn, watch, type Expected, type Problems, type Session } from './browser.js';

type CentralSync = Extract<Vault['sync'], { role: 'central' }>;

export const BRAND = 'demo-brand';
export const PEOPLE = {
  alice: { email: 'alice@demo.test', email_verified: true, name: 'Alice Admin' },
  olga: { email: 'olga@demo.test', email_verified: true, name: 'Olga Officer' },
  oscar: { email: 'oscar@demo.test', email_verified: true, name: 'Oscar Officer' },
  vera: { email: 'vera@demo.test', email_verified: true, name: 'Vera Viewer' },
  petra: { email: 'petra@demo.test', email_verified: true, name: 'Petra Publisher' },
};
export type Who = keyof typeof PEOPLE;
const ROLES: Record<Who, Role[]> = { alice: ['admin', 'security-officer'], olga: ['security-officer'], oscar: ['security-officer'], vera: ['viewer'], petra: [] };
/** Devices registered against the vault's device API: the issuance log has these serials, oldest first. */
const DEVICES = 3;

const SUB_STORES = [
  ['demo-kiosk', 'Demo Kiosk', 'product'],
  ['demo-partners', 'Demo Partners', 'ecosystem'],
] as const;

/** Appliances central serves, and how each has kept up: one pulled at the start and up to date, one later and behind, one disabled before it ever pulled. */
export const APPLIANCES = { upToDate: 'plant-berlin', behind: 'plant-osaka', disabled: 'plant-austin' } as const;
const BEHIND = 7;

export interface DashboardVault {
  readonly sso: SsoTestVault;
  /** The admin listener's origin, without the trailing slash. */
  readonly origin: string;
  /** Ceremony proposed by Olga, for Oscar to approve. */
  readonly ceremonyId: number;
  /** The serials issued to the registered devices, oldest first. */
  readonly serials: readonly string[];
  /** A call to the admin API with a person's access token. */
  fetchAs(who: Who, path: string, init?: RequestInit): Promise<Response>;
  /** GET on the admin API with a person's access token; the answer must be 200. */
  api<T>(who: Who, path: string): Promise<T>;
  close(): Promise<void>;
}

/** Central noting an appliance's pull, as its feed route does when the appliance asks for changes after `cursor`. */
async function notePull(sync: CentralSync, name: string, behind: number): Promise<void> {
  const a = (await sync.appliances.repository.byName(name))!;
  const head = await sync.feed.head();
  await sync.feed.seen({ id: a.id, name: a.name, storeId: a.storeId, brandId: a.brandId, brandAccountId: BRAND }, Math.max(0, head - behind), head);
}

/**
 * A vault with something on every page: people in each role, a revision
 * waiting for review (uploaded by the operator, so any reviewer may take
 * it), registered devices, appliances that have pulled (or not), and an
 * open ceremony.
 */
export async function startDashboardVault(): Promise<DashboardVault> {
  ensureBuilt();
  const dir = testDataDir();
  const sso = await startSsoVault(dir, PEOPLE);
  const tokens = new Map<Who, string>();
  const { vault } = sso.v;
  const fetchAs = (who: Who, path: string, init: RequestInit = {}) => fetch(new URL(path, sso.admin), { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${tokens.get(who)!}` } });
  const post = async <T>(who: Who, path: string, body: unknown): Promise<T> => {
    const res = await fetchAs(who, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, `POST ${path}: ${res.status}`).toBeLessThan(300);
    return (await res.json()) as T;
  };
  const close = async () => {
    await sso.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let made: { ceremonyId: number; serials: string[] };
  try {
    const sync = vault.sync;
    if (sync.role !== 'central') throw new Error('the dashboard vault must be a central: it serves the appliance pages');
    made = await populate(sync);
  } catch (e) {
    await close();
    throw e;
  }
  return {
    sso,
    origin: sso.admin.replace(/\/$/, ''),
    ...made,
    fetchAs,
    async api<T>(who: Who, path: string): Promise<T> {
      const r = await fetchAs(who, path);
      expect(r.status, `${path}: ${r.status}`).toBe(200);
      return (await r.json()) as T;
    },
    close,
  };

  async function populate(sync: CentralSync) {
    for (const who of Object.keys(PEOPLE) as Who[]) {
      const p = PEOPLE[who];
      await vault.accounts.addPerson(OPERATOR, p.email, p.name);
      for (const role of ROLES[who]) await vault.accounts.grant(OPERATOR, BRAND, p.email, role);
      tokens.set(who, (await vault.accounts.createToken(OPERATOR, { name: 'test', days: 1, forEmail: p.email })).secret);
    }
    // A store tree to show: a product store under the brand, and an ecosystem store its creator runs.
    for (const [id, name, kind] of SUB_STORES) await post('alice', 'api/v1/stores', { id, name, parent: BRAND, kind });
    for (const name of Object.values(APPLIANCES)) await post('alice', `api/v1/brands/${BRAND}/appliances`, { name, store: BRAND });
    await notePull(sync, APPLIANCES.upToDate, 0);
    await vault.snaps.setReviewPolicy(OPERATOR, BRAND, true);
    await vault.snaps.register(OPERATOR, { name: 'hello-demo', storeId: BRAND });
    const file = buildSnap(dir, { name: 'hello-demo', version: '1.0', architectures: ['amd64'], summary: 'hello' });
    const up = await vault.snaps.upload(OPERATOR, createReadStream(file));
    await vault.snaps.push(OPERATOR, BRAND, 'hello-demo', up.uploadId);
    const serials: string[] = [];
    for (const deviceKey of await deviceKeys(DEVICES)) {
      const reg = await registerDevice({ url: sso.v.url, headers: { 'api-key': sso.v.apiKey }, model: sso.v.model, trusted: sso.v.trusted, deviceKey });
      serials.push(reg.serial.headerString('serial'));
    }
    const { ceremony } = await post<{ ceremony: { id: number } }>('olga', `api/v1/brands/${BRAND}/ceremonies`, { action: 'key.create', params: { purpose: 'serials' } });
    await sync.appliances.disable(APPLIANCES.disabled, OPERATOR_ACTOR, BRAND);
    // Later than the first: a more recent pull, that has not applied the latest changes.
    await notePull(sync, APPLIANCES.behind, BEHIND);
    return { ceremonyId: ceremony.id, serials };
  }
}

/** A signed-in page and what went wrong on it since sign-in. */
export interface Visit {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly problems: Problems;
}

export interface DashboardSuite {
  readonly d: DashboardVault;
  readonly browser: Browser;
  /**
   * Opens `path` as `who` and watches the page; the browser context is
   * closed after the test, passed or failed. The first visit of each person
   * signs in through the provider (as does every one with `fresh`), later
   * ones start with that session's cookie.
   */
  visit(who: Who, path: string, options?: { viewport?: { width: number; height: number }; expected?: readonly Expected[]; fresh?: boolean }): Promise<Visit>;
}

/** One vault and one browser for a file's tests (started before them, closed after), and a fresh signed-in context per visit. */
export function dashboardSuite(): DashboardSuite {
  let d: DashboardVault | undefined;
  let browser: Browser | undefined;
  const open: BrowserContext[] = [];
  const sessions = new Map<Who, Session>();
  beforeAll(async () => {
    d = await startDashboardVault();
    browser = await launch();
  }, 180_000);
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await d?.close();
  });
  const suite: DashboardSuite = {
    get d() {
      return d!;
    },
    get browser() {
      return browser!;
    },
    async visit(who, path, options = {}) {
      const session = options.fresh ? undefined : sessions.get(who);
      const { context, page } = await signedIn(suite.browser, suite.d.sso, who, path, options.viewport, session);
      open.push(context);
      if (!session) sessions.set(who, await context.storageState());
      return { page, context, problems: watch(page, suite.d.origin, options.expected) };
    },
  };
  return suite;
}
