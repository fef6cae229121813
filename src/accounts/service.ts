import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { AuditLog, type AuditEntry } from './audit.js';
import { BrandRepository, type Brand } from './brands.js';
import { AccountsError } from './errors.js';
import { GrantRepository, type Grant } from './grants.js';
import { PeopleRepository, normalizeEmail, type Person, type PersonStatus } from './people.js';
import { OPERATOR, actorOf, decide, reach, rolesOn, storesWith, type Principal } from './principal.js';
import type { Action } from './policy.js';
import { ROLES, type Role, type StoreKind } from './roles.js';
import { SessionRepository } from './sessions.js';
import { STORE_ID, StoreRepository, type StoreTree, type Store } from './stores.js';
import { AccessTokenRepository, type AccessToken } from './tokens.js';

export interface Page<T> {
  readonly items: T[];
  /** Pass as `after` for the next page; null on the last one. */
  readonly next: string | null;
}

export interface StoreView extends Store {
  /** The caller's roles on this store. */
  readonly roles: Role[];
}

export interface StoreNode extends StoreView {
  readonly children: StoreNode[];
}

export interface GrantView {
  readonly person: { readonly id: number; readonly email: string; readonly displayName: string };
  readonly storeId: string;
  readonly role: Role;
  /** Where the grant was made, when it reaches this store from a parent store. */
  readonly inheritedFrom: string | null;
  readonly createdAt: string;
}

export interface AccountsOptions {
  readonly clock?: () => Date;
  /** How long a browser session lasts after sign-in. */
  readonly sessionTtlMs?: number;
  /** The longest lifetime a person may give an access token. */
  readonly maxTokenDays?: number;
}

const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;

function pageOf<T>(rows: T[], limit: number, cursor: (t: T) => string): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, next: more && items.length > 0 ? cursor(items[items.length - 1] as T) : null };
}

const clampLimit = (limit?: number) => Math.min(Math.max(limit ?? DEFAULT_PAGE, 1), MAX_PAGE);

/**
 * Brand accounts, the store tree, people, role grants, access tokens and
 * sessions: the use cases, each change in one transaction with its audit
 * record. The HTTP layer checks the policy table before calling in; the
 * methods here filter what they return to what the caller may see, and
 * keep the rules that hold whoever asks (the last administrator stays,
 * a token never reaches further than its owner).
 */
export class AccountsService {
  private readonly clock: () => Date;
  private readonly sessionTtlMs: number;
  private readonly maxTokenDays: number;

  constructor(
    private readonly db: Database,
    options: AccountsOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.sessionTtlMs = options.sessionTtlMs ?? 8 * 3600_000;
    this.maxTokenDays = options.maxTokenDays ?? 365;
  }

  private repos(db: Database) {
    return {
      brands: new BrandRepository(db),
      stores: new StoreRepository(db),
      people: new PeopleRepository(db),
      grants: new GrantRepository(db),
      tokens: new AccessTokenRepository(db, this.clock),
      sessions: new SessionRepository(db, this.clock),
      audit: new AuditLog(db, this.clock),
    };
  }

  /** Runs `work` in a transaction; every query in it must use the repositories it is given. */
  private change<T>(work: (r: ReturnType<AccountsService['repos']>, trx: Database) => Promise<T>): Promise<T> {
    return this.db.transaction((trx) => work(this.repos(trx), trx));
  }

  async tree(): Promise<StoreTree> {
    return this.repos(this.db).stores.tree();
  }

  /** The policy table applied to a request; throws ERR_FORBIDDEN with the reason. */
  async authorize(principal: Principal, action: Action, storeId?: string): Promise<void> {
    const d = decide(principal, await this.tree(), action, storeId);
    if (!d.allowed) throw new AccountsError('ERR_FORBIDDEN', d.reason);
  }

  // --- signing in ---------------------------------------------------------

  private async principalFor(person: Person | undefined, via: 'session' | 'token', address: string | undefined, extra: { token?: AccessToken; sessionId?: string }): Promise<Principal | undefined> {
    if (!person || person.status !== 'active') return undefined;
    const grants = await this.repos(this.db).grants.forPerson(person.id);
    return { kind: 'person', person, via, grants, ...extra, ...(address ? { address } : {}) };
  }

  async authenticateToken(secret: string, address?: string): Promise<Principal | undefined> {
    const r = this.repos(this.db);
    const token = await r.tokens.verify(secret);
    if (!token) return undefined;
    return this.principalFor(await r.people.byId(token.personId), 'token', address, { token });
  }

  async authenticateSession(id: string, address?: string): Promise<Principal | undefined> {
    const r = this.repos(this.db);
    const session = await r.sessions.lookup(id);
    if (!session) return undefined;
    return this.principalFor(await r.people.byId(session.personId), 'session', address, { sessionId: id });
  }

  /**
   * After the identity provider vouched for an email: a session for the
   * person with that email. Only people a store administrator added may
   * sign in, and only with an address the provider verified.
   */
  async signIn(identity: { email: string; emailVerified: boolean }, address?: string): Promise<{ sessionId: string; expiresAt: Date; person: Person }> {
    if (!identity.emailVerified) throw new AccountsError('ERR_EMAIL_NOT_VERIFIED', `the identity provider has not verified the email "${identity.email}": verify it there, then sign in again`);
    return this.change(async (r) => {
      const person = await r.people.byEmail(identity.email);
      if (!person) throw new AccountsError('ERR_FORBIDDEN', `no one with the email "${identity.email}" may use this vault: ask a store administrator to add you`);
      if (person.status !== 'active') throw new AccountsError('ERR_FORBIDDEN', `the account "${person.email}" is disabled`);
      const { id, expiresAt } = await r.sessions.create(person.id, this.sessionTtlMs);
      await r.audit.append({ actor: person.email, actorKind: 'person', via: 'session', action: 'session.create', targetType: 'person', targetId: String(person.id), storeId: null, clientAddress: address ?? null, before: null, after: { expiresAt: expiresAt.toISOString() } });
      return { sessionId: id, expiresAt, person };
    });
  }

  /** Housekeeping: ended sessions are kept a day (for the audit trail's sake), then forgotten. */
  pruneSessions(): Promise<number> {
    return this.repos(this.db).sessions.prune();
  }

  async signOut(sessionId: string, address?: string): Promise<void> {
    await this.change(async (r) => {
      const session = await r.sessions.lookup(sessionId);
      if (!session) return;
      await r.sessions.revoke(sessionId);
      const person = await r.people.byId(session.personId);
      await r.audit.append({ actor: person?.email ?? String(session.personId), actorKind: 'person', via: 'session', action: 'session.end', targetType: 'person', targetId: String(session.personId), storeId: null, clientAddress: address ?? null, before: null, after: null });
    });
  }

  // --- the caller ---------------------------------------------------------

  /** The principal with its grants read again: after a change made in the same request. */
  async refresh(principal: Principal): Promise<Principal> {
    if (principal.kind !== 'person') return principal;
    return { ...principal, grants: await this.repos(this.db).grants.forPerson(principal.person.id) };
  }

  async me(principal: Principal): Promise<{ person: Person | null; roles: Record<string, Role[]>; token: AccessToken | null }> {
    const tree = await this.tree();
    const roles = Object.fromEntries([...reach(principal, tree)].map(([id, set]) => [id, ROLES.filter((r) => set.has(r))]));
    return principal.kind === 'person' ? { person: principal.person, roles, token: principal.token ?? null } : { person: null, roles, token: null };
  }

  // --- brands -------------------------------------------------------------

  async listBrands(principal: Principal): Promise<Brand[]> {
    const tree = await this.tree();
    const visible = new Set([...reach(principal, tree).keys()].map((id) => tree.get(id)?.brandId));
    return (await this.repos(this.db).brands.list()).filter((b) => visible.has(b.id));
  }

  async brand(accountId: string): Promise<Brand> {
    const brand = await this.repos(this.db).brands.byAccountId(accountId);
    if (!brand) throw new AccountsError('ERR_BRAND_UNKNOWN', `no brand "${accountId}"`);
    return brand;
  }

  // --- stores -------------------------------------------------------------

  private view(principal: Principal, tree: StoreTree, store: Store): StoreView {
    const held = rolesOn(principal, tree, store.id);
    return { ...store, roles: ROLES.filter((r) => held.has(r)) };
  }

  async listStores(principal: Principal, filter: { brand?: string; kind?: StoreKind; parent?: string; after?: string; limit?: number } = {}): Promise<Page<StoreView>> {
    const tree = await this.tree();
    const visible = reach(principal, tree);
    const brandId = filter.brand === undefined ? undefined : (await this.brand(filter.brand)).id;
    const limit = clampLimit(filter.limit);
    const rows = tree.stores
      .filter((s) => visible.has(s.id))
      .filter((s) => brandId === undefined || s.brandId === brandId)
      .filter((s) => filter.kind === undefined || s.kind === filter.kind)
      .filter((s) => filter.parent === undefined || s.parentId === filter.parent)
      .filter((s) => filter.after === undefined || s.id > filter.after)
      .slice(0, limit + 1)
      .map((s) => this.view(principal, tree, s));
    return pageOf(rows, limit, (s) => s.id);
  }

  async store(principal: Principal, id: string): Promise<StoreView> {
    const tree = await this.tree();
    const store = tree.get(id);
    if (!store) throw new AccountsError('ERR_STORE_UNKNOWN', `no store "${id}"`);
    return this.view(principal, tree, store);
  }

  /**
   * The stores below `id` (and `id`) that the caller may see. A store the
   * caller holds no role on is left out with everything under it: an
   * ecosystem sub-store is its own administrators' business.
   */
  async storeTree(principal: Principal, id: string): Promise<StoreNode> {
    const tree = await this.tree();
    const visible = reach(principal, tree);
    const build = (s: Store): StoreNode => ({
      ...this.view(principal, tree, s),
      children: tree
        .childrenOf(s.id)
        .filter((c) => visible.has(c.id))
        .map(build),
    });
    const root = tree.get(id);
    if (!root) throw new AccountsError('ERR_STORE_UNKNOWN', `no store "${id}"`);
    return build(root);
  }

  async createStore(principal: Principal, input: { id?: string; name: string; parentId: string; kind: Exclude<StoreKind, 'brand'>; administrators?: readonly string[] }): Promise<Store> {
    const id = input.id ?? slug(input.name);
    if (!STORE_ID.test(id) || id.length > 64) {
      throw new AccountsError('ERR_INVALID_INPUT', `"${id}" cannot be a store id: use lower-case letters, digits and single hyphens, at most 64 characters`);
    }
    return this.change(async (r) => {
      const parent = await r.stores.require(input.parentId);
      if (await r.stores.byId(id)) throw new AccountsError('ERR_STORE_EXISTS', `a store "${id}" exists already: choose another id`);
      const admins: Person[] = [];
      for (const email of input.administrators ?? []) admins.push(await r.people.requireByEmail(email));
      // An ecosystem store is run by its own administrators: with none named, its creator runs it.
      if (input.kind === 'ecosystem' && admins.length === 0) {
        if (principal.kind !== 'person') throw new AccountsError('ERR_INVALID_INPUT', 'an ecosystem store needs at least one administrator: name one by email');
        admins.push(principal.person);
      }
      const store = await r.stores.create({ id, name: input.name, brandId: parent.brandId, parentId: parent.id, kind: input.kind }).catch((e: unknown) => {
        // Made by someone else between the check above and now.
        throw isUniqueViolation(e) ? new AccountsError('ERR_STORE_EXISTS', `a store "${id}" exists already: choose another id`) : e;
      });
      for (const p of admins) await r.grants.add(p.id, store.id, 'admin');
      await r.audit.append({ ...actorOf(principal), action: 'store.create', targetType: 'store', targetId: store.id, storeId: store.id, before: null, after: { ...store, administrators: admins.map((p) => p.email) } });
      return store;
    });
  }

  async renameStore(principal: Principal, id: string, name: string): Promise<Store> {
    return this.change(async (r) => {
      const before = await r.stores.require(id);
      await r.stores.rename(id, name);
      const after = { ...before, name };
      await r.audit.append({ ...actorOf(principal), action: 'store.update', targetType: 'store', targetId: id, storeId: id, before, after });
      return after;
    });
  }

  // --- grants -------------------------------------------------------------

  /** Grants that reach `storeId`: its own, then those inherited down product links. */
  async listGrants(storeId: string): Promise<GrantView[]> {
    const r = this.repos(this.db);
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

  async grant(principal: Principal, storeId: string, email: string, role: Role): Promise<Grant> {
    return this.change(async (r) => {
      await r.stores.require(storeId);
      // An email not yet known becomes a person here: whether it exists (in another brand's
      // stores, say) must not show in the answer, so granting is not an oracle for it.
      const normalized = normalizeEmail(email);
      let person = await r.people.byEmail(normalized);
      if (!person) {
        person = await r.people.create(normalized, normalized);
        await r.audit.append({ ...actorOf(principal), action: 'person.add', targetType: 'person', targetId: String(person.id), storeId, before: null, after: person });
      }
      try {
        const grant = await r.grants.add(person.id, storeId, role);
        await r.audit.append({ ...actorOf(principal), action: 'grant.create', targetType: 'grant', targetId: `${storeId}/${person.email}/${role}`, storeId, before: null, after: { email: person.email, role } });
        return grant;
      } catch (e) {
        if (isUniqueViolation(e)) throw new AccountsError('ERR_GRANT_EXISTS', `"${person.email}" already holds the role ${role} on store "${storeId}"`);
        throw e;
      }
    });
  }

  async revoke(principal: Principal, storeId: string, email: string, role: Role): Promise<void> {
    await this.change(async (r, trx) => {
      await r.stores.require(storeId);
      const normalized = normalizeEmail(email);
      const person = await r.people.byEmail(normalized);
      // The same answer whether or not the email is known elsewhere.
      if (!person || !(await r.grants.remove(person.id, storeId, role))) {
        throw new AccountsError('ERR_GRANT_UNKNOWN', `"${normalized}" holds no role ${role} on store "${storeId}" itself (an inherited role is revoked where it was granted)`);
      }
      if (role === 'admin') await this.keepAnAdministrator(trx, storeId);
      await r.audit.append({ ...actorOf(principal), action: 'grant.revoke', targetType: 'grant', targetId: `${storeId}/${person.email}/${role}`, storeId, before: { email: person.email, role }, after: null });
    });
  }

  /** Refuses (rolling back) a change that leaves `storeId` with no active administrator. */
  private async keepAnAdministrator(trx: Database, storeId: string): Promise<void> {
    const r = this.repos(trx);
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

  // --- people -------------------------------------------------------------

  /**
   * Whom the caller may see: the people holding a role on a store the
   * caller administers, and people who hold no role yet (just added).
   * The operator sees everyone.
   */
  private async visiblePeople(principal: Principal, r: ReturnType<AccountsService['repos']>): Promise<{ person: (p: number) => boolean; store: (s: string) => boolean }> {
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

  async listPeople(principal: Principal, filter: { email?: string; after?: number; limit?: number } = {}): Promise<Page<Person>> {
    const r = this.repos(this.db);
    const visible = await this.visiblePeople(principal, r);
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

  async person(principal: Principal, id: number): Promise<Person & { grants: Grant[] }> {
    const r = this.repos(this.db);
    const person = await r.people.byId(id);
    const visible = await this.visiblePeople(principal, r);
    if (!person || !visible.person(id)) throw new AccountsError('ERR_PERSON_UNKNOWN', `no person ${id} that you administer`);
    // Only the grants on stores the caller administers (or above them): not what the person does elsewhere.
    return { ...person, grants: (await r.grants.forPerson(id)).filter((g) => visible.store(g.storeId)) };
  }

  async addPerson(principal: Principal, email: string, displayName: string): Promise<Person> {
    const normalized = normalizeEmail(email);
    return this.change(async (r) => {
      if (await r.people.byEmail(normalized)) throw new AccountsError('ERR_PERSON_EXISTS', `"${normalized}" is already a person of this vault`);
      const person = await r.people.create(normalized, displayName || normalized).catch((e: unknown) => {
        throw isUniqueViolation(e) ? new AccountsError('ERR_PERSON_EXISTS', `"${normalized}" is already a person of this vault`) : e;
      });
      await r.audit.append({ ...actorOf(principal), action: 'person.add', targetType: 'person', targetId: String(person.id), storeId: null, before: null, after: person });
      return person;
    });
  }

  async updatePerson(principal: Principal, id: number, change: { displayName?: string; status?: PersonStatus }): Promise<Person> {
    return this.change(async (r, trx) => {
      const before = await r.people.byId(id);
      if (!before || !(await this.visiblePeople(principal, r)).person(id)) throw new AccountsError('ERR_PERSON_UNKNOWN', `no person ${id} that you administer`);
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
        for (const g of await r.grants.forPerson(id)) if (g.role === 'admin') await this.keepAnAdministrator(trx, g.storeId);
        await r.sessions.revokeAllOf(id);
      }
      await r.audit.append({ ...actorOf(principal), action: 'person.update', targetType: 'person', targetId: String(id), storeId: null, before, after });
      return after;
    });
  }

  // --- access tokens ------------------------------------------------------

  async listTokens(principal: Principal, personEmail?: string): Promise<AccessToken[]> {
    const r = this.repos(this.db);
    const person = principal.kind === 'person' ? principal.person : personEmail ? await r.people.requireByEmail(personEmail) : undefined;
    if (!person) throw new AccountsError('ERR_INVALID_INPUT', 'whose tokens? name the person by email');
    return r.tokens.forPerson(person.id);
  }

  /**
   * A token for the caller (or, for the operator, for `forEmail`), limited
   * to the stores and roles asked for. It can never reach further than
   * the person's own roles, nor than the token the request came with.
   */
  async createToken(
    principal: Principal,
    input: { name: string; days: number; stores?: readonly string[]; roles?: readonly Role[]; forEmail?: string },
  ): Promise<{ token: AccessToken; secret: string }> {
    if (!Number.isInteger(input.days) || input.days < 1 || input.days > this.maxTokenDays) {
      throw new AccountsError('ERR_INVALID_INPUT', `a token lives from 1 to ${this.maxTokenDays} days; ${input.days} was asked for`);
    }
    return this.change(async (r) => {
      const person = principal.kind === 'person' ? principal.person : await r.people.requireByEmail(input.forEmail ?? '');
      const owner: Principal = principal.kind === 'person' ? principal : { kind: 'person', person, via: 'token', grants: await r.grants.forPerson(person.id) };
      const tree = await r.stores.tree();
      const held = reach(owner, tree);
      const callerToken = principal.kind === 'person' ? principal.token : undefined;
      const stores = input.stores ? [...new Set(input.stores)] : (callerToken?.stores ?? null);
      const roles = input.roles ? [...new Set(input.roles)] : (callerToken?.roles ?? null);
      for (const s of stores ?? []) {
        if (!held.has(s)) throw new AccountsError('ERR_TOKEN_SCOPE', `a token cannot reach store "${s}": ${person.email} holds no role there`);
      }
      for (const role of roles ?? []) {
        if (![...held.values()].some((set) => set.has(role))) throw new AccountsError('ERR_TOKEN_SCOPE', `a token cannot carry the role ${role}: ${person.email} holds it nowhere`);
      }
      // A token made with a token never outlives it, and stops with it (see AccessTokenRepository.verify).
      const asked = this.clock().getTime() + input.days * 86400_000;
      const expiresAt = new Date(callerToken ? Math.min(asked, Date.parse(callerToken.expiresAt)) : asked);
      const made = await r.tokens.create({ personId: person.id, name: input.name, stores, roles, expiresAt, ...(callerToken ? { parentId: callerToken.id } : {}) });
      await r.audit.append({ ...actorOf(principal), action: 'token.create', targetType: 'token', targetId: String(made.token.id), storeId: null, before: null, after: { owner: person.email, name: made.token.name, prefix: made.token.prefix, stores, roles, expiresAt: made.token.expiresAt } });
      return made;
    });
  }

  async revokeToken(principal: Principal, id: number): Promise<void> {
    await this.change(async (r) => {
      const token = await r.tokens.byId(id);
      if (!token || (principal.kind === 'person' && token.personId !== principal.person.id)) throw new AccountsError('ERR_TOKEN_UNKNOWN', `no token ${id} of yours`);
      if (token.revokedAt !== null) return;
      await r.tokens.revoke(id);
      await r.audit.append({ ...actorOf(principal), action: 'token.revoke', targetType: 'token', targetId: String(id), storeId: null, before: { name: token.name, prefix: token.prefix }, after: null });
    });
  }

  // --- audit --------------------------------------------------------------

  /** Audit entries about `storeId` and the stores below it that the caller may audit. */
  async audit(principal: Principal, storeId: string, page: { before?: number; limit?: number } = {}): Promise<Page<AuditEntry>> {
    const tree = await this.tree();
    const storeIds = tree.subtree(storeId).filter((s) => decide(principal, tree, 'audit.read', s.id).allowed).map((s) => s.id);
    const limit = clampLimit(page.limit);
    const rows = await this.repos(this.db).audit.list({ storeIds, ...(page.before !== undefined ? { beforeId: page.before } : {}), limit: limit + 1 });
    return pageOf(rows, limit, (e) => String(e.id));
  }

  /** The whole audit log, newest first: the operator's view (sign-ins, people and tokens have no store). */
  async auditAll(principal: Principal, page: { before?: number; limit?: number } = {}): Promise<Page<AuditEntry>> {
    if (principal.kind !== 'operator') throw new AccountsError('ERR_FORBIDDEN', 'only the operator reads the whole audit log; read a store\'s with its id');
    const limit = clampLimit(page.limit);
    const rows = await this.repos(this.db).audit.list({ ...(page.before !== undefined ? { beforeId: page.before } : {}), limit: limit + 1 });
    return pageOf(rows, limit, (e) => String(e.id));
  }

  // --- bootstrap ----------------------------------------------------------

  /**
   * The first administrator of a brand, from the appliance's command line:
   * the person (added if new), the admin role on the brand store, and a
   * short-lived token to sign in with before single sign-on is set up.
   */
  async bootstrapAdmin(input: { email: string; displayName?: string; brand?: string; days?: number }): Promise<{ person: Person; store: Store; secret: string; token: AccessToken }> {
    const r = this.repos(this.db);
    const brands = await r.brands.list();
    const brand = input.brand ? await this.brand(input.brand) : brands.length === 1 ? brands[0] : undefined;
    if (!brand) {
      throw new AccountsError(
        brands.length === 0 ? 'ERR_BRAND_UNKNOWN' : 'ERR_INVALID_INPUT',
        brands.length === 0 ? 'there is no brand yet: create one first ("serial-vault brand create")' : `several brands: name one with --brand (${brands.map((b) => b.accountId).join(', ')})`,
      );
    }
    const store = await r.stores.require(brand.accountId);
    const email = normalizeEmail(input.email);
    const person = (await r.people.byEmail(email)) ?? (await this.addPerson(OPERATOR, email, input.displayName ?? email));
    const held = await r.grants.forPerson(person.id);
    if (!held.some((g) => g.storeId === store.id && g.role === 'admin')) await this.grant(OPERATOR, store.id, email, 'admin');
    const { token, secret } = await this.createToken(OPERATOR, { name: 'bootstrap', days: input.days ?? 1, forEmail: email });
    return { person, store, secret, token };
  }
}

/** A store id from a display name: "Widgets EU" → "widgets-eu". */
export function slug(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
}
