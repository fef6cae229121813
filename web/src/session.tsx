import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { POLICY, type Action } from '../../src/accounts/policy.js';
import type { Me, Role, Store } from './types.js';

/**
 * Who is signed in and what they may do. The page hides what the policy
 * would refuse; the API still checks every call, so a hidden control is a
 * courtesy, never the guard.
 */
export interface Session {
  readonly me: Me;
  /** The stores the person holds a role on (GET /api/v1/stores). */
  readonly stores: readonly Store[];
  /** The store the store-scoped pages show; brand pages use its brand. */
  readonly store: Store | undefined;
  readonly brand: string | undefined;
  selectStore(id: string): void;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside <SessionContext.Provider>');
  return s;
}

/**
 * Roles on a store: held there, or on a store above that reaches it (grants
 * on a parent reach its product sub-stores, never an ecosystem store).
 */
export function rolesOn(session: Pick<Session, 'me' | 'stores'>, storeId: string | undefined): Set<Role> {
  const roles = new Set<Role>();
  const byId = new Map(session.stores.map((s) => [s.id, s]));
  let id = storeId;
  for (let depth = 0; id && depth < 16; depth++) {
    for (const r of session.me.roles[id] ?? []) roles.add(r);
    for (const r of byId.get(id)?.roles ?? []) roles.add(r);
    const s = byId.get(id);
    id = s && s.kind === 'product' ? (s.parentId ?? undefined) : undefined;
  }
  return roles;
}

/** Whether the policy table lets the person do `action` (on `storeId` for store-scoped actions). */
export function may(session: Pick<Session, 'me' | 'stores'>, action: Action, storeId?: string): boolean {
  const need = POLICY[action];
  if (need.scope === 'signed-in') return session.me.person !== null;
  if (need.scope === 'any-store') return Object.values(session.me.roles).some((rs) => rs.some((r) => need.roles.includes(r)));
  const held = rolesOn(session, storeId);
  return need.roles.some((r) => held.has(r));
}

export function useMay(action: Action, storeId?: string): boolean {
  const s = useSession();
  return may(s, action, storeId ?? s.store?.id);
}

/** The brand a store belongs to: the brand store at the top of its tree. */
export function brandOf(stores: readonly Store[], storeId: string | undefined): string | undefined {
  const byId = new Map(stores.map((s) => [s.id, s]));
  let s = storeId ? byId.get(storeId) : undefined;
  for (let depth = 0; s && depth < 16; depth++) {
    if (s.kind === 'brand') return s.id;
    s = s.parentId ? byId.get(s.parentId) : undefined;
  }
  return stores.find((x) => x.kind === 'brand')?.id;
}
