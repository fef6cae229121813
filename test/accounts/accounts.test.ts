import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrandRepository } from '../../src/accounts/brands.js';
import { SnapCollaboratorRepository } from '../../src/accounts/grants.js';
import { isUniqueViolation } from '../../src/db/errors.js';
import { OPERATOR, decide, rolesOn, type Principal } from '../../src/accounts/principal.js';
import { AccountsService } from '../../src/accounts/service.js';
import { migrate, openDatabase, type Database } from '../../src/db/database.js';
import { freshPostgresDatabase } from '../support/postgres.js';
import { refusalCode } from '../support/refusal.js';

/**
 * The store tree used throughout:
 *
 *   acme (brand)
 *   ├── widgets (product)
 *   │   └── widgets-eu (product)
 *   └── partner (ecosystem)
 *       └── partner-kiosk (product)
 */
async function tree(accounts: AccountsService) {
  await accounts.addPerson(OPERATOR, 'brand-admin@acme.test', 'Brand Admin');
  await accounts.addPerson(OPERATOR, 'partner-admin@partner.test', 'Partner Admin');
  await accounts.addPerson(OPERATOR, 'viewer@acme.test', 'Viewer');
  await accounts.grant(OPERATOR, 'acme', 'brand-admin@acme.test', 'admin');
  await accounts.createStore(OPERATOR, { name: 'Widgets', parentId: 'acme', kind: 'product' });
  await accounts.createStore(OPERATOR, { id: 'widgets-eu', name: 'Widgets EU', parentId: 'widgets', kind: 'product' });
  await accounts.createStore(OPERATOR, { name: 'Partner', parentId: 'acme', kind: 'ecosystem', administrators: ['partner-admin@partner.test'] });
  await accounts.createStore(OPERATOR, { id: 'partner-kiosk', name: 'Partner kiosk', parentId: 'partner', kind: 'product' });
  await accounts.grant(OPERATOR, 'widgets', 'viewer@acme.test', 'viewer');
}

async function as(accounts: AccountsService, email: string): Promise<Principal> {
  const token = await accounts.createToken(OPERATOR, { name: 't', days: 1, forEmail: email });
  return (await accounts.authenticateToken(token.secret)) as Principal;
}

const code = refusalCode;

describe.each(['sqlite', 'pg'] as const)('accounts, stores and roles on %s', (kind) => {
  let db: Database;
  let accounts: AccountsService;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sv-accounts-'));
    db = kind === 'sqlite' ? openDatabase({ client: 'sqlite', filename: join(dir, 'vault.db') }) : openDatabase({ client: 'pg', connection: await freshPostgresDatabase() });
    await migrate(db);
    await new BrandRepository(db).create('acme', 'ACME Devices');
    accounts = new AccountsService(db);
    await tree(accounts);
  });

  afterAll(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives every brand a brand store at the root of its tree', async () => {
    const store = await accounts.store(OPERATOR, 'acme');
    expect(store).toMatchObject({ id: 'acme', kind: 'brand', parentId: null, name: 'ACME Devices' });
  });

  it('takes brand account ids and display names only as snapd would', async () => {
    const brands = new BrandRepository(db);
    await expect(brands.create('Bad_Brand', 'Bad')).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', message: expect.stringContaining('"Bad_Brand" cannot be a brand account id') });
    await expect(brands.create('x', 'Too short')).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    await expect(brands.create('fine-brand', '  ')).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', message: 'brand "fine-brand" needs a display name' });
    expect(await db('stores').where({ id: 'Bad_Brand' }).first()).toBeUndefined();
  });

  it('lets a grant on a store reach its product sub-stores, two levels down', async () => {
    const admin = await as(accounts, 'brand-admin@acme.test');
    const t = await accounts.tree();
    expect([...rolesOn(admin, t, 'acme')]).toEqual(['admin']);
    expect([...rolesOn(admin, t, 'widgets')]).toEqual(['admin']);
    expect([...rolesOn(admin, t, 'widgets-eu')]).toEqual(['admin']);
    const grants = await accounts.listGrants('widgets-eu');
    expect(grants.map((g) => [g.person.email, g.role, g.inheritedFrom])).toEqual([
      ['brand-admin@acme.test', 'admin', 'acme'],
      ['viewer@acme.test', 'viewer', 'widgets'],
    ]);
  });

  it('keeps an ecosystem sub-store and what is below it out of reach of the parent’s grants', async () => {
    const admin = await as(accounts, 'brand-admin@acme.test');
    const t = await accounts.tree();
    expect(rolesOn(admin, t, 'partner').size).toBe(0);
    expect(rolesOn(admin, t, 'partner-kiosk').size).toBe(0);
    expect(decide(admin, t, 'grant.create', 'partner')).toMatchObject({ allowed: false });
    const visible = (await accounts.storeTree(admin, 'acme')).children.map((c) => c.id);
    expect(visible).toEqual(['widgets']);
    expect((await accounts.listStores(admin)).items.map((s) => s.id)).toEqual(['acme', 'widgets', 'widgets-eu']);
  });

  it('lets the ecosystem store’s own administrators run it and its product sub-stores, and nothing above', async () => {
    const partner = await as(accounts, 'partner-admin@partner.test');
    const t = await accounts.tree();
    expect([...rolesOn(partner, t, 'partner')]).toEqual(['admin']);
    expect([...rolesOn(partner, t, 'partner-kiosk')]).toEqual(['admin']);
    expect(rolesOn(partner, t, 'acme').size).toBe(0);
    expect(rolesOn(partner, t, 'widgets').size).toBe(0);
    expect((await accounts.listStores(partner)).items.map((s) => s.id)).toEqual(['partner', 'partner-kiosk']);
    // People the partner may see: their own store's, and people with no role yet; not the brand's.
    const people = (await accounts.listPeople(partner)).items.map((p) => p.email);
    expect(people).toContain('partner-admin@partner.test');
    expect(people).not.toContain('brand-admin@acme.test');
    expect(people).not.toContain('viewer@acme.test');
  });

  it('gives a viewer of a product store no role on its parent', async () => {
    const viewer = await as(accounts, 'viewer@acme.test');
    const t = await accounts.tree();
    expect(rolesOn(viewer, t, 'acme').size).toBe(0);
    expect([...rolesOn(viewer, t, 'widgets-eu')]).toEqual(['viewer']);
    expect(decide(viewer, t, 'store.read', 'widgets-eu')).toEqual({ allowed: true });
    expect(decide(viewer, t, 'grant.list', 'widgets-eu')).toMatchObject({ allowed: false });
  });

  it('lets a person hold several roles on one store', async () => {
    await accounts.grant(OPERATOR, 'widgets', 'viewer@acme.test', 'reviewer');
    const viewer = await as(accounts, 'viewer@acme.test');
    expect([...rolesOn(viewer, await accounts.tree(), 'widgets')].sort()).toEqual(['reviewer', 'viewer']);
    await accounts.revoke(OPERATOR, 'widgets', 'viewer@acme.test', 'reviewer');
  });

  it('refuses to remove or disable the last administrator of a store, and keeps the grant', async () => {
    expect(await code(accounts.revoke(OPERATOR, 'acme', 'brand-admin@acme.test', 'admin'))).toBe('ERR_LAST_ADMIN');
    expect(await code(accounts.revoke(OPERATOR, 'partner', 'partner-admin@partner.test', 'admin'))).toBe('ERR_LAST_ADMIN');
    const partnerAdmin = (await accounts.listPeople(OPERATOR, { email: 'partner-admin' })).items[0]!;
    expect(await code(accounts.updatePerson(OPERATOR, partnerAdmin.id, { status: 'disabled' }))).toBe('ERR_LAST_ADMIN');
    expect((await accounts.listGrants('acme')).map((g) => g.person.email)).toEqual(['brand-admin@acme.test']);
    expect((await accounts.person(OPERATOR, partnerAdmin.id)).status).toBe('active');
    // With a second administrator, the first may go.
    await accounts.addPerson(OPERATOR, 'second@acme.test', 'Second');
    await accounts.grant(OPERATOR, 'acme', 'second@acme.test', 'admin');
    await accounts.revoke(OPERATOR, 'acme', 'second@acme.test', 'admin');
  });

  it('lets only one of two administrators removing each other at once succeed', async () => {
    await accounts.createStore(OPERATOR, { id: 'duel', name: 'Duel', parentId: 'acme', kind: 'ecosystem', administrators: ['partner-admin@partner.test'] });
    await accounts.addPerson(OPERATOR, 'duelist@partner.test', 'Duelist');
    await accounts.grant(OPERATOR, 'duel', 'duelist@partner.test', 'admin');
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all([
        code(accounts.revoke(OPERATOR, 'duel', 'partner-admin@partner.test', 'admin')),
        code(accounts.revoke(OPERATOR, 'duel', 'duelist@partner.test', 'admin')),
      ]);
      expect(results.sort()).toEqual(['ERR_LAST_ADMIN', 'ok']);
      expect((await accounts.listGrants('duel')).filter((g) => g.role === 'admin')).toHaveLength(1);
      // Put the other one back for the next round.
      const left = (await accounts.listGrants('duel'))[0]!.person.email;
      await accounts.grant(OPERATOR, 'duel', left === 'duelist@partner.test' ? 'partner-admin@partner.test' : 'duelist@partner.test', 'admin');
    }
  });

  it('answers a race to create the same store or person with a conflict, not a failure', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => code(accounts.createStore(OPERATOR, { id: 'racer', name: 'Racer', parentId: 'acme', kind: 'product' }))));
    expect(stores.sort()).toEqual(['ERR_STORE_EXISTS', 'ERR_STORE_EXISTS', 'ok']);
    const people = await Promise.all([1, 2, 3].map(() => code(accounts.addPerson(OPERATOR, 'racer@acme.test', 'Racer'))));
    expect(people.sort()).toEqual(['ERR_PERSON_EXISTS', 'ERR_PERSON_EXISTS', 'ok']);
  });

  it('lets only someone who administers all of a person’s stores change them', async () => {
    await accounts.addPerson(OPERATOR, 'line-admin@acme.test', 'Line admin');
    await accounts.grant(OPERATOR, 'widgets-eu', 'line-admin@acme.test', 'admin');
    const lineAdmin = await as(accounts, 'line-admin@acme.test');
    const brandAdmin = (await accounts.listPeople(OPERATOR, { email: 'brand-admin@' })).items[0]!;
    // The brand's administrator is visible from the sub-store (their grant reaches it), but out of its hands.
    expect((await accounts.listPeople(lineAdmin)).items.map((p) => p.email)).toContain('brand-admin@acme.test');
    expect(await code(accounts.updatePerson(lineAdmin, brandAdmin.id, { status: 'disabled' }))).toBe('ERR_FORBIDDEN');
    expect((await accounts.person(OPERATOR, brandAdmin.id)).status).toBe('active');
    // The brand administrator may change the line administrator.
    const admin = await as(accounts, 'brand-admin@acme.test');
    const line = (await accounts.listPeople(OPERATOR, { email: 'line-admin@' })).items[0]!;
    expect((await accounts.updatePerson(admin, line.id, { displayName: 'Line A admin' })).displayName).toBe('Line A admin');
  });

  it('lets a product sub-store lose its own administrator while one above still reaches it', async () => {
    await accounts.grant(OPERATOR, 'widgets', 'viewer@acme.test', 'admin');
    expect(await code(accounts.revoke(OPERATOR, 'widgets', 'viewer@acme.test', 'admin'))).toBe('ok');
    const admins = (await accounts.listGrants('widgets')).filter((g) => g.role === 'admin');
    expect(admins.map((g) => [g.person.email, g.inheritedFrom])).toEqual([['brand-admin@acme.test', 'acme']]);
    expect(rolesOn(await as(accounts, 'brand-admin@acme.test'), await accounts.tree(), 'widgets').has('admin')).toBe(true);
  });

  it('refuses duplicate grants, unknown people and unknown stores with their codes', async () => {
    expect(await code(accounts.grant(OPERATOR, 'acme', 'brand-admin@acme.test', 'admin'))).toBe('ERR_GRANT_EXISTS');
    expect(await code(accounts.grant(OPERATOR, 'nope', 'viewer@acme.test', 'viewer'))).toBe('ERR_STORE_UNKNOWN');
    expect(await code(accounts.grant(OPERATOR, 'nope', 'viewer@acme.test', 'viewer'))).toBe('ERR_STORE_UNKNOWN');
    expect(await code(accounts.revoke(OPERATOR, 'acme', 'viewer@acme.test', 'viewer'))).toBe('ERR_GRANT_UNKNOWN');
    expect(await code(accounts.addPerson(OPERATOR, 'VIEWER@acme.test', 'again'))).toBe('ERR_PERSON_EXISTS');
    expect(await code(accounts.addPerson(OPERATOR, 'not an email', 'x'))).toBe('ERR_INVALID_INPUT');
    expect(await code(accounts.createStore(OPERATOR, { id: 'widgets', name: 'again', parentId: 'acme', kind: 'product' }))).toBe('ERR_STORE_EXISTS');
    expect(await code(accounts.createStore(OPERATOR, { id: 'Bad_Id', name: 'x', parentId: 'acme', kind: 'product' }))).toBe('ERR_INVALID_INPUT');
  });

  it('limits a token to the stores and roles it was made for, never more than its owner holds', async () => {
    const admin = await as(accounts, 'brand-admin@acme.test');
    const narrow = await accounts.createToken(admin, { name: 'station', days: 7, stores: ['widgets-eu'], roles: ['admin'] });
    expect(narrow.secret).toMatch(/^svp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const p = (await accounts.authenticateToken(narrow.secret)) as Principal;
    const t = await accounts.tree();
    expect([...rolesOn(p, t, 'widgets-eu')]).toEqual(['admin']);
    expect(rolesOn(p, t, 'widgets').size).toBe(0);
    expect(rolesOn(p, t, 'acme').size).toBe(0);
    expect(await code(accounts.createToken(admin, { name: 'x', days: 1, stores: ['partner'] }))).toBe('ERR_TOKEN_SCOPE');
    expect(await code(accounts.createToken(admin, { name: 'x', days: 1, roles: ['publisher'] }))).toBe('ERR_TOKEN_SCOPE');
    // A narrow token cannot make a wider one.
    expect(await code(accounts.createToken(p, { name: 'wider', days: 1, stores: ['acme'] }))).toBe('ERR_TOKEN_SCOPE');
    const child = await accounts.createToken(p, { name: 'same', days: 1 });
    expect(child.token.stores).toEqual(['widgets-eu']);
    expect(await code(accounts.createToken(admin, { name: 'x', days: 0 }))).toBe('ERR_INVALID_INPUT');
  });

  it('refuses a revoked or expired token and a disabled person’s token', async () => {
    const made = await accounts.createToken(OPERATOR, { name: 'short', days: 1, forEmail: 'viewer@acme.test' });
    expect(await accounts.authenticateToken(made.secret)).toBeDefined();
    await accounts.revokeToken(OPERATOR, made.token.id);
    expect(await accounts.authenticateToken(made.secret)).toBeUndefined();

    const later = new AccountsService(db, { clock: () => new Date(Date.now() + 2 * 86400_000) });
    const other = await accounts.createToken(OPERATOR, { name: 'x', days: 1, forEmail: 'viewer@acme.test' });
    expect(await later.authenticateToken(other.secret)).toBeUndefined();

    const viewer = (await accounts.listPeople(OPERATOR, { email: 'viewer@' })).items[0]!;
    await accounts.updatePerson(OPERATOR, viewer.id, { status: 'disabled' });
    expect(await accounts.authenticateToken(other.secret)).toBeUndefined();
    await accounts.updatePerson(OPERATOR, viewer.id, { status: 'active' });
    expect(await accounts.authenticateToken(other.secret)).toBeDefined();
    // A tampered secret is refused the same way.
    expect(await accounts.authenticateToken(other.secret.slice(0, -1) + (other.secret.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
  });

  it('records every change with who, what, where and before/after, and the table refuses edits', async () => {
    const admin = await as(accounts, 'brand-admin@acme.test');
    await accounts.renameStore({ ...admin, address: '192.0.2.7' } as Principal, 'widgets', 'Widgets line');
    const [entry] = (await accounts.audit(admin, 'widgets')).items;
    expect(entry).toMatchObject({
      actor: 'brand-admin@acme.test',
      actorKind: 'person',
      via: 'token',
      action: 'store.update',
      targetId: 'widgets',
      clientAddress: '192.0.2.7',
      before: { name: 'Widgets' },
      after: { name: 'Widgets line' },
    });
    await expect(db('audit_log').update({ actor: 'someone else' })).rejects.toThrow(/append-only/);
    await expect(db('audit_log').delete()).rejects.toThrow(/append-only/);
  });

  it('rolls a refused change back whole: no audit entry, no half-made store', async () => {
    const before = await db('audit_log').count({ n: '*' }).first();
    expect(await code(accounts.createStore(OPERATOR, { id: 'half', name: 'Half', parentId: 'acme', kind: 'product', administrators: ['nobody@acme.test'] }))).toBe('ERR_PERSON_UNKNOWN');
    expect(await db('stores').where({ id: 'half' }).first()).toBeUndefined();
    expect(Number((await db('audit_log').count({ n: '*' }).first())?.n)).toBe(Number(before?.n));
  });

  it('pages through stores and people', async () => {
    const every = (await accounts.listStores(OPERATOR)).items.map((s) => s.id);
    expect(every.length).toBeGreaterThanOrEqual(5);
    const first = await accounts.listStores(OPERATOR, { limit: 2 });
    expect(first.items.map((s) => s.id)).toEqual(every.slice(0, 2));
    const second = await accounts.listStores(OPERATOR, { limit: 2, after: first.next! });
    expect(second.items.map((s) => s.id)).toEqual(every.slice(2, 4));
    const filtered = await accounts.listStores(OPERATOR, { kind: 'product', parent: 'widgets' });
    expect(filtered).toEqual({ items: [expect.objectContaining({ id: 'widgets-eu' })], next: null });
    const all = [];
    let after: number | undefined;
    for (;;) {
      const page = await accounts.listPeople(OPERATOR, { limit: 1, ...(after !== undefined ? { after } : {}) });
      all.push(...page.items.map((p) => p.email));
      if (!page.next) break;
      after = Number(page.next);
    }
    expect(new Set(all).size).toBe(all.length);
    expect(all).toContain('viewer@acme.test');
  });

  it('forgets sessions a day after they ended, and keeps live ones', async () => {
    const live = await accounts.signIn({ email: 'viewer@acme.test', emailVerified: true });
    const ended = await accounts.signIn({ email: 'viewer@acme.test', emailVerified: true });
    await accounts.signOut(ended.sessionId);
    const tomorrow = new AccountsService(db, { clock: () => new Date(Date.now() + 25 * 3600_000) });
    expect(await tomorrow.pruneSessions()).toBeGreaterThanOrEqual(1);
    expect(await accounts.authenticateSession(live.sessionId)).toBeDefined();
    const later = new AccountsService(db, { clock: () => new Date(Date.now() + 40 * 3600_000) });
    await later.pruneSessions();
    expect(await accounts.authenticateSession(live.sessionId)).toBeUndefined();
  });

  it('records collaborators per snap of a store, for the catalog', async () => {
    const viewer = (await accounts.listPeople(OPERATOR, { email: 'viewer@' })).items[0]!;
    const collaborators = new SnapCollaboratorRepository(db);
    await collaborators.add(viewer.id, 'widgets', 'widget-agent');
    await expect(collaborators.add(viewer.id, 'widgets', 'widget-agent')).rejects.toSatisfy(isUniqueViolation);
    expect(await collaborators.forSnap('widgets', 'widget-agent')).toEqual([viewer.id]);
    expect(await collaborators.forSnap('widgets-eu', 'widget-agent')).toEqual([]);
    expect(await collaborators.remove(viewer.id, 'widgets', 'widget-agent')).toBe(true);
    expect(await collaborators.forSnap('widgets', 'widget-agent')).toEqual([]);
  });

  it('signs in only people who were added, with a verified email, and ends sessions when they are disabled', async () => {
    await expect(accounts.signIn({ email: 'viewer@acme.test', emailVerified: false })).rejects.toMatchObject({ code: 'ERR_EMAIL_NOT_VERIFIED' });
    await expect(accounts.signIn({ email: 'stranger@acme.test', emailVerified: true })).rejects.toMatchObject({ code: 'ERR_FORBIDDEN' });
    const { sessionId } = await accounts.signIn({ email: 'Viewer@ACME.test', emailVerified: true });
    expect((await accounts.authenticateSession(sessionId))?.kind).toBe('person');
    const viewer = (await accounts.listPeople(OPERATOR, { email: 'viewer@' })).items[0]!;
    await accounts.updatePerson(OPERATOR, viewer.id, { status: 'disabled' });
    await accounts.updatePerson(OPERATOR, viewer.id, { status: 'active' });
    expect(await accounts.authenticateSession(sessionId)).toBeUndefined();
  });
});
