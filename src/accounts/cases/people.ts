import type { Database } from '../../db/database.js';
import { isUniqueViolation } from '../../db/errors.js';
import { AccountsError } from '../errors.js';
import type { Grant } from '../grants.js';
import { normalizeEmail, type Person, type PersonStatus } from '../people.js';
import { actorOf, rolesOn, storesWith, type Principal } from '../principal.js';
import type { Role } from '../roles.js';
import { type AccountsContext, clampLimit, pageOf, type Page, type Repos } from './context.js';
import type { GrantView } from './views.js';

// Role grants and people: who may see and change whom, and the last-administrator rule.

/** Grants that reach `storeId`: its own, then those inherited down product links. */
export async function listGrants(ctx: AccountsContext, storeId: string): Promise<GrantView[]> {
  const r = ctx.repos(ctx.db);
  const tree = await r.stores.tree();
  if (!tree.get(storeId)) throw new AccountsError('ERR_STORE_UNKNOWN', `no store "${storeId}"`);
  const chain = tree.grantChain(storeId).map((s) => s.id);
  const grants = await r.grants.forStores(chain);
  const people = new Map((await r.people.list({ ids: [...new Set(grants.map((g) => g.personId))] })).map((p) => [p.id, p]));
  return grants.map((g) => {
    const p = people.get(g.personId) as Person;
    return { person: { id: p.id, email: p.email, displayName: p.displayName }, storeId, role: g.role, inheritedFrom: g.storeId === storeId ? null : g.storeId, createdAt: g.createdAt };
  });
}

/** How a security-officer grant or revocation came: through an executed ceremony of the brand's officers. */
export interface OfficerChange {
  readonly ceremony?: number;
}

/**
 * Security officers approve key ceremonies, so who is one is itself guarded:
 * a person appoints or removes one only through a ceremony of the brand's
 * officers. An administrator who could appoint them could approve their own
 * key changes through people they control. The appliance's operator (who
 * holds the HSM PIN, and so stands outside the two-person rule) appoints
 * the first ones.
 */
async function checkOfficerChange(r: Repos, principal: Principal, storeId: string, role: Role, via: OfficerChange): Promise<void> {
  if (role !== 'security-officer' || via.ceremony !== undefined || principal.kind === 'operator') return;
  const chain = (await r.stores.tree()).grantChain(storeId);
  const brandStore = chain[chain.length - 1]?.id ?? storeId;
  throw new AccountsError('ERR_FORBIDDEN', `security officers are appointed and removed by a ceremony of the brand's officers: serial-vault ceremony propose officer.grant (or officer.revoke) --brand ${brandStore} --param email=EMAIL`);
}

export async function grant(ctx: AccountsContext, principal: Principal, storeId: string, email: string, role: Role, via: OfficerChange = {}): Promise<Grant> {
  return ctx.change(async (r) => {
    await r.stores.require(storeId);
    await checkOfficerChange(r, principal, storeId, role, via);
    // An email not yet known becomes a person here: whether it exists (in another brand's
    // stores, say) must not show in the answer, so granting is not an oracle for it.
    const normalized = normalizeEmail(email);
    const person = (await r.people.byEmail(normalized)) ?? (await createPerson(r, principal, normalized, normalized, storeId));
    try {
      const grant = await r.grants.add(person.id, storeId, role);
      await r.audit.append({ ...actorOf(principal), action: 'grant.create', targetType: 'grant', targetId: `${storeId}/${person.email}/${role}`, storeId, before: null, after: { email: person.email, role, ...(via.ceremony !== undefined ? { ceremony: via.ceremony } : {}) } });
      return grant;
    } catch (e) {
      if (isUniqueViolation(e)) throw new AccountsError('ERR_GRANT_EXISTS', `"${person.email}" already holds the role ${role} on store "${storeId}"`);
      throw e;
    }
  });
}

export async function revoke(ctx: AccountsContext, principal: Principal, storeId: string, email: string, role: Role, via: OfficerChange = {}): Promise<void> {
  await ctx.change(async (r, trx) => {
    await r.stores.require(storeId);
    await checkOfficerChange(r, principal, storeId, role, via);
    const normalized = normalizeEmail(email);
    const person = await r.people.byEmail(normalized);
    // The same answer whether or not the email is known elsewhere.
    if (!person || !(await r.grants.remove(person.id, storeId, role))) {
      throw new AccountsError('ERR_GRANT_UNKNOWN', `"${normalized}" holds no role ${role} on store "${storeId}" itself (an inherited role is revoked where it was granted)`);
    }
    if (role === 'admin') await keepAnAdministrator(ctx, trx, storeId);
    await r.audit.append({ ...actorOf(principal), action: 'grant.revoke', targetType: 'grant', targetId: `${storeId}/${person.email}/${role}`, storeId, before: { email: person.email, role }, after: null });
  });
}

/** Refuses (rolling back) a change that leaves `storeId` with no active administrator. */
async function keepAnAdministrator(ctx: AccountsContext, trx: Database, storeId: string): Promise<void> {
  const r = ctx.repos(trx);
  const tree = await r.stores.tree();
  const chain = tree.grantChain(storeId).map((s) => s.id);
  // Two administrators removing each other at once must not both succeed: on PostgreSQL the
  // check holds the stores' rows, so a second check waits for the first change and sees it.
  // (SQLite runs one write transaction at a time already.)
  await r.stores.lock(chain);
  const admins = (await r.grants.forStores(chain)).filter((g) => g.role === 'admin');
  const active = await r.people.list({ ids: admins.map((g) => g.personId) });
  if (!active.some((p) => p.status === 'active')) {
    throw new AccountsError('ERR_LAST_ADMIN', `store "${storeId}" would have no administrator left: grant the role admin to someone else first`);
  }
}

/**
 * Whom the caller may see: the people holding a role on a store the
 * caller administers, and people who hold no role yet (just added).
 * The operator sees everyone.
 */
async function visiblePeople(principal: Principal, r: Repos): Promise<{ person: (p: number) => boolean; store: (s: string) => boolean }> {
  if (principal.kind === 'operator') return { person: () => true, store: () => true };
  const tree = await r.stores.tree();
  const administered = new Set(storesWith(principal, tree, ['admin']));
  const grants = await r.grants.all();
  // A grant is seen where it reaches: on an administered store, or above one along a product link.
  // Someone holding no role there is nobody's business here, whatever stores elsewhere hold them.
  const reaching = new Set([...administered].flatMap((id) => tree.grantChain(id).map((s) => s.id)));
  const seen = new Set(grants.filter((g) => reaching.has(g.storeId)).map((g) => g.personId));
  return { person: (id) => seen.has(id), store: (id) => reaching.has(id) };
}

export async function listPeople(ctx: AccountsContext, principal: Principal, filter: { email?: string; after?: number; limit?: number } = {}): Promise<Page<Person>> {
  const r = ctx.repos(ctx.db);
  const visible = await visiblePeople(principal, r);
  const limit = clampLimit(filter.limit);
  const out: Person[] = [];
  let after = filter.after;
  // Page through the table, skipping whom the caller may not see.
  for (;;) {
    const batch = await r.people.list({ ...(filter.email ? { emailContains: filter.email } : {}), ...(after !== undefined ? { afterId: after } : {}), limit: 500 });
    for (const p of batch) if (visible.person(p.id) && out.length <= limit) out.push(p);
    if (batch.length < 500 || out.length > limit) break;
    after = (batch[batch.length - 1] as Person).id;
  }
  return pageOf(out, limit, (p) => String(p.id));
}

export async function person(ctx: AccountsContext, principal: Principal, id: number): Promise<Person & { grants: Grant[] }> {
  const r = ctx.repos(ctx.db);
  const person = await r.people.byId(id);
  const visible = await visiblePeople(principal, r);
  if (!person || !visible.person(id)) throw new AccountsError('ERR_PERSON_UNKNOWN', `no person ${id} that you administer`);
  // Only the grants on stores the caller administers (or above them): not what the person does elsewhere.
  return { ...person, grants: (await r.grants.forPerson(id)).filter((g) => visible.store(g.storeId)) };
}

/** A new person and its audit record; an email taken meanwhile (a race) is ERR_PERSON_EXISTS. */
async function createPerson(r: Repos, principal: Principal, email: string, displayName: string, storeId: string | null): Promise<Person> {
  const person = await r.people.create(email, displayName).catch((e: unknown) => {
    throw isUniqueViolation(e) ? new AccountsError('ERR_PERSON_EXISTS', `"${email}" is already a person of this vault`) : e;
  });
  await r.audit.append({ ...actorOf(principal), action: 'person.add', targetType: 'person', targetId: String(person.id), storeId, before: null, after: person });
  return person;
}

export async function addPerson(ctx: AccountsContext, principal: Principal, email: string, displayName: string): Promise<Person> {
  const normalized = normalizeEmail(email);
  return ctx.change(async (r) => {
    if (await r.people.byEmail(normalized)) throw new AccountsError('ERR_PERSON_EXISTS', `"${normalized}" is already a person of this vault`);
    return createPerson(r, principal, normalized, displayName || normalized, null);
  });
}

export async function updatePerson(ctx: AccountsContext, principal: Principal, id: number, change: { displayName?: string; status?: PersonStatus }): Promise<Person> {
  return ctx.change(async (r, trx) => {
    const before = await r.people.byId(id);
    if (!before || !(await visiblePeople(principal, r)).person(id)) throw new AccountsError('ERR_PERSON_UNKNOWN', `no person ${id} that you administer`);
    // Seeing someone is not enough to change them: the caller must administer every store they hold a role on,
    // so the administrator of a sub-store cannot disable the brand's.
    const tree = await r.stores.tree();
    const beyond = (await r.grants.forPerson(id)).filter((g) => !rolesOn(principal, tree, g.storeId).has('admin')).map((g) => g.storeId);
    if (beyond.length > 0) {
      throw new AccountsError('ERR_FORBIDDEN', `${before.email} also holds roles on stores you do not administer (${[...new Set(beyond)].join(', ')}): an administrator of those must make this change`);
    }
    await r.people.update(id, change);
    const after = { ...before, ...change };
    if (change.status === 'disabled' && before.status !== 'disabled') {
      for (const g of await r.grants.forPerson(id)) if (g.role === 'admin') await keepAnAdministrator(ctx, trx, g.storeId);
      await r.sessions.revokeAllOf(id);
    }
    await r.audit.append({ ...actorOf(principal), action: 'person.update', targetType: 'person', targetId: String(id), storeId: null, before, after });
    return after;
  });
}

/** The active people who hold `role` on `storeId` itself, by email (the brand's security officers, for its ceremonies). */
export async function holders(ctx: AccountsContext, storeId: string, role: Role): Promise<string[]> {
  const r = ctx.repos(ctx.db);
  const grants = (await r.grants.forStores([storeId])).filter((g) => g.role === role);
  const people = await r.people.list({ ids: [...new Set(grants.map((g) => g.personId))] });
  return people.filter((p) => p.status === 'active').map((p) => p.email);
}
