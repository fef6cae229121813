import type { Grant } from './grants.js';
import type { Person } from './people.js';
import { ROLES, type Role } from './roles.js';
import type { StoreTree } from './stores.js';
import type { AccessToken } from './tokens.js';
import { POLICY, type Action } from './policy.js';

/**
 * Who is asking, and what they may do: a signed-in person (through a
 * browser session or an access token), or the local operator at the
 * appliance's command line, who holds every role (they own the data
 * directory and the HSM PIN already).
 */
export type Principal =
  | { readonly kind: 'person'; readonly person: Person; readonly via: 'session' | 'token'; readonly token?: AccessToken; readonly sessionId?: string; readonly grants: readonly Grant[]; readonly address?: string }
  | { readonly kind: 'operator'; readonly via: 'cli' };

export const OPERATOR: Principal = { kind: 'operator', via: 'cli' };

/** The roles `principal` holds on `storeId`, given the tree, after any limits of the token used. */
export function rolesOn(principal: Principal, tree: StoreTree, storeId: string): Set<Role> {
  if (!tree.get(storeId)) return new Set();
  if (principal.kind === 'operator') return new Set(ROLES);
  const chain = tree.grantChain(storeId).map((s) => s.id);
  const token = principal.token;
  if (token?.stores && !chain.some((id) => token.stores!.includes(id))) return new Set();
  const roles = new Set<Role>();
  for (const g of principal.grants) {
    if (chain.includes(g.storeId) && (!token?.roles || token.roles.includes(g.role))) roles.add(g.role);
  }
  return roles;
}

/** Every store where `principal` holds at least one role, with those roles. */
export function reach(principal: Principal, tree: StoreTree): Map<string, Set<Role>> {
  const out = new Map<string, Set<Role>>();
  for (const s of tree.stores) {
    const roles = rolesOn(principal, tree, s.id);
    if (roles.size > 0) out.set(s.id, roles);
  }
  return out;
}

/** Stores where `principal` holds one of `roles`. */
export function storesWith(principal: Principal, tree: StoreTree, roles: readonly Role[]): string[] {
  return [...reach(principal, tree)].filter(([, held]) => roles.some((r) => held.has(r))).map(([id]) => id);
}

export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** The policy table applied: may `principal` do `action` on `storeId` (for store-scoped actions)? */
export function decide(principal: Principal, tree: StoreTree, action: Action, storeId?: string): Decision {
  const rule = POLICY[action];
  if (rule.scope === 'signed-in') return { allowed: true };
  if (rule.scope === 'any-store') {
    if (storesWith(principal, tree, rule.roles).length > 0) return { allowed: true };
    return { allowed: false, reason: `${action} needs the role ${rule.roles.join(' or ')} on some store` };
  }
  const held = storeId === undefined ? new Set<Role>() : rolesOn(principal, tree, storeId);
  if (rule.roles.some((r) => held.has(r))) return { allowed: true };
  return { allowed: false, reason: `${action} needs the role ${rule.roles.join(' or ')} on store "${storeId ?? ''}" (or there is no such store)` };
}

export function actorOf(principal: Principal): { actor: string; actorKind: 'person' | 'operator'; via: 'session' | 'token' | 'cli'; clientAddress: string | null } {
  return principal.kind === 'operator'
    ? { actor: 'operator', actorKind: 'operator', via: 'cli', clientAddress: null }
    : { actor: principal.person.email, actorKind: 'person', via: principal.via, clientAddress: principal.address ?? null };
}
