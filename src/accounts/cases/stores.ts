import { isUniqueViolation } from '../../db/errors.js';
import { AccountsError } from '../errors.js';
import type { Person } from '../people.js';
import { actorOf, reach, rolesOn, type Principal } from '../principal.js';
import { ROLES, type StoreKind } from '../roles.js';
import { STORE_ID, type StoreTree, type Store } from '../stores.js';
import { type AccountsContext, clampLimit, pageOf, type Page } from './context.js';
import { brand } from './sign-in.js';
import type { StoreView, StoreNode } from './views.js';

// The store tree: what the caller may see of it, creating and renaming stores.

function view(principal: Principal, tree: StoreTree, store: Store): StoreView {
  const held = rolesOn(principal, tree, store.id);
  return { ...store, roles: ROLES.filter((r) => held.has(r)) };
}

export async function listStores(ctx: AccountsContext, principal: Principal, filter: { brand?: string; kind?: StoreKind; parent?: string; after?: string; limit?: number } = {}): Promise<Page<StoreView>> {
  const tree = await ctx.tree();
  const visible = reach(principal, tree);
  const brandId = filter.brand === undefined ? undefined : (await brand(ctx, filter.brand)).id;
  const limit = clampLimit(filter.limit);
  const rows = tree.stores
    .filter((s) => visible.has(s.id))
    .filter((s) => brandId === undefined || s.brandId === brandId)
    .filter((s) => filter.kind === undefined || s.kind === filter.kind)
    .filter((s) => filter.parent === undefined || s.parentId === filter.parent)
    .filter((s) => filter.after === undefined || s.id > filter.after)
    .slice(0, limit + 1)
    .map((s) => view(principal, tree, s));
  return pageOf(rows, limit, (s) => s.id);
}

export async function store(ctx: AccountsContext, principal: Principal, id: string): Promise<StoreView> {
  const tree = await ctx.tree();
  const store = tree.get(id);
  if (!store) throw new AccountsError('ERR_STORE_UNKNOWN', `no store "${id}"`);
  return view(principal, tree, store);
}

/**
 * The stores below `id` (and `id`) that the caller may see. A store the
 * caller holds no role on is left out with everything under it: an
 * ecosystem sub-store is its own administrators' business.
 */
export async function storeTree(ctx: AccountsContext, principal: Principal, id: string): Promise<StoreNode> {
  const tree = await ctx.tree();
  const visible = reach(principal, tree);
  const build = (s: Store): StoreNode => ({
    ...view(principal, tree, s),
    children: tree
      .childrenOf(s.id)
      .filter((c) => visible.has(c.id))
      .map(build),
  });
  const root = tree.get(id);
  if (!root) throw new AccountsError('ERR_STORE_UNKNOWN', `no store "${id}"`);
  return build(root);
}

export async function createStore(ctx: AccountsContext, principal: Principal, input: { id?: string; name: string; parentId: string; kind: Exclude<StoreKind, 'brand'>; administrators?: readonly string[] }): Promise<Store> {
  const id = input.id ?? slug(input.name);
  if (!STORE_ID.test(id) || id.length > 64) {
    throw new AccountsError('ERR_INVALID_INPUT', `"${id}" cannot be a store id: use lower-case letters, digits and single hyphens, at most 64 characters`);
  }
  return ctx.change(async (r) => {
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

export async function renameStore(ctx: AccountsContext, principal: Principal, id: string, name: string): Promise<Store> {
  return ctx.change(async (r) => {
    const before = await r.stores.require(id);
    await r.stores.rename(id, name);
    const after = { ...before, name };
    await r.audit.append({ ...actorOf(principal), action: 'store.update', targetType: 'store', targetId: id, storeId: id, before, after });
    return after;
  });
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
