import type { Brand } from '../brands.js';
import { AccountsError } from '../errors.js';
import type { Person } from '../people.js';
import { reach, type Principal } from '../principal.js';
import { ROLES, type Role } from '../roles.js';
import type { AccessToken } from '../tokens.js';
import type { AccountsContext } from './context.js';

// Signing in (sessions and tokens), the caller, and brands.

async function principalFor(ctx: AccountsContext, person: Person | undefined, via: 'session' | 'token', address: string | undefined, extra: { token?: AccessToken; sessionId?: string }): Promise<Principal | undefined> {
  if (!person || person.status !== 'active') return undefined;
  const grants = await ctx.repos(ctx.db).grants.forPerson(person.id);
  return { kind: 'person', person, via, grants, ...extra, ...(address ? { address } : {}) };
}

export async function authenticateToken(ctx: AccountsContext, secret: string, address?: string): Promise<Principal | undefined> {
  const r = ctx.repos(ctx.db);
  const token = await r.tokens.verify(secret);
  if (!token) return undefined;
  return principalFor(ctx, await r.people.byId(token.personId), 'token', address, { token });
}

export async function authenticateSession(ctx: AccountsContext, id: string, address?: string): Promise<Principal | undefined> {
  const r = ctx.repos(ctx.db);
  const session = await r.sessions.lookup(id);
  if (!session) return undefined;
  return principalFor(ctx, await r.people.byId(session.personId), 'session', address, { sessionId: id });
}

/**
 * After the identity provider vouched for an email: a session for the
 * person with that email. Only people a store administrator added may
 * sign in, and only with an address the provider verified.
 */
export async function signIn(ctx: AccountsContext, identity: { email: string; emailVerified: boolean }, address?: string): Promise<{ sessionId: string; expiresAt: Date; person: Person }> {
  if (!identity.emailVerified) throw new AccountsError('ERR_EMAIL_NOT_VERIFIED', `the identity provider has not verified the email "${identity.email}": verify it there, then sign in again`);
  return ctx.change(async (r) => {
    const person = await r.people.byEmail(identity.email);
    if (!person) throw new AccountsError('ERR_FORBIDDEN', `no one with the email "${identity.email}" may use this vault: ask a store administrator to add you`);
    if (person.status !== 'active') throw new AccountsError('ERR_FORBIDDEN', `the account "${person.email}" is disabled`);
    const { id, expiresAt } = await r.sessions.create(person.id, ctx.sessionTtlMs);
    await r.audit.append({ actor: person.email, actorKind: 'person', via: 'session', action: 'session.create', targetType: 'person', targetId: String(person.id), storeId: null, clientAddress: address ?? null, before: null, after: { expiresAt: expiresAt.toISOString() } });
    return { sessionId: id, expiresAt, person };
  });
}

/** Housekeeping: ended sessions are kept a day (for the audit trail's sake), then forgotten. */
export function pruneSessions(ctx: AccountsContext): Promise<number> {
  return ctx.repos(ctx.db).sessions.prune();
}

export async function signOut(ctx: AccountsContext, sessionId: string, address?: string): Promise<void> {
  await ctx.change(async (r) => {
    const session = await r.sessions.lookup(sessionId);
    if (!session) return;
    await r.sessions.revoke(sessionId);
    const person = await r.people.byId(session.personId);
    await r.audit.append({ actor: person?.email ?? String(session.personId), actorKind: 'person', via: 'session', action: 'session.end', targetType: 'person', targetId: String(session.personId), storeId: null, clientAddress: address ?? null, before: null, after: null });
  });
}

/** The principal with its grants read again: after a change made in the same request. */
export async function refresh(ctx: AccountsContext, principal: Principal): Promise<Principal> {
  if (principal.kind !== 'person') return principal;
  return { ...principal, grants: await ctx.repos(ctx.db).grants.forPerson(principal.person.id) };
}

export async function me(ctx: AccountsContext, principal: Principal): Promise<{ person: Person | null; roles: Record<string, Role[]>; token: AccessToken | null }> {
  const tree = await ctx.tree();
  const roles = Object.fromEntries([...reach(principal, tree)].map(([id, set]) => [id, ROLES.filter((r) => set.has(r))]));
  return principal.kind === 'person' ? { person: principal.person, roles, token: principal.token ?? null } : { person: null, roles, token: null };
}

export async function listBrands(ctx: AccountsContext, principal: Principal): Promise<Brand[]> {
  const tree = await ctx.tree();
  const visible = new Set([...reach(principal, tree).keys()].map((id) => tree.get(id)?.brandId));
  return (await ctx.repos(ctx.db).brands.list()).filter((b) => visible.has(b.id));
}

export async function brand(ctx: AccountsContext, accountId: string): Promise<Brand> {
  const brand = await ctx.repos(ctx.db).brands.byAccountId(accountId);
  if (!brand) throw new AccountsError('ERR_BRAND_UNKNOWN', `no brand "${accountId}"`);
  return brand;
}
