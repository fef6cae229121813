import { z } from 'zod';
import type { AccountsService } from '../../../accounts/service.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';
import { StoreParam, name, strip } from './common.js';

/** The store tree: listing, creating, renaming, and a store's subtree. */
export function storesRoutes(accounts: AccountsService): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/stores',
      action: 'store.list',
      summary: 'Stores where the caller holds a role, by store id',
      query: z.object({ brand: z.string().optional(), kind: S.StoreKind.optional(), parent: z.string().optional(), after: z.string().optional(), limit: S.Limit }),
      response: S.page(S.Store, 'Store'),
      handle: ({ principal, query }) => accounts.listStores(principal, strip(query)),
    }),

    route({
      method: 'post',
      path: '/api/v1/stores',
      action: 'store.create',
      summary: 'Create a product or ecosystem sub-store (admin on the parent store)',
      body: z.strictObject({
        id: z.string().optional().meta({ description: 'lower-case letters, digits and hyphens; default: made from the name' }),
        name: name(128),
        parent: z.string().min(1),
        kind: z.enum(['product', 'ecosystem']),
        administrators: z.array(z.string()).max(50).optional().meta({ description: 'emails granted admin on the new store; an ecosystem store with none is run by its creator' }),
      }),
      target: ({ body }) => body.parent,
      status: 201,
      response: S.Store,
      handle: async ({ principal, body }) => {
        const store = await accounts.createStore(principal, { ...(body.id ? { id: body.id } : {}), name: body.name, parentId: body.parent, kind: body.kind, ...(body.administrators ? { administrators: body.administrators } : {}) });
        // The creator may have just become the new store's administrator.
        return accounts.store(await accounts.refresh(principal), store.id);
      },
    }),

    route({
      method: 'get',
      path: '/api/v1/stores/:store',
      action: 'store.read',
      summary: 'A store',
      params: StoreParam,
      target: ({ params }) => params.store,
      response: S.Store,
      handle: ({ principal, params }) => accounts.store(principal, params.store),
    }),

    route({
      method: 'patch',
      path: '/api/v1/stores/:store',
      action: 'store.update',
      summary: 'Rename a store',
      params: StoreParam,
      body: z.strictObject({ name: name(128) }),
      target: ({ params }) => params.store,
      response: S.Store,
      handle: async ({ principal, params, body }) => {
        await accounts.renameStore(principal, params.store, body.name);
        return accounts.store(principal, params.store);
      },
    }),

    route({
      method: 'get',
      path: '/api/v1/stores/:store/tree',
      action: 'store.read',
      summary: 'A store and the sub-stores below it that the caller may see',
      params: StoreParam,
      target: ({ params }) => params.store,
      response: S.StoreNode,
      handle: ({ principal, params }) => accounts.storeTree(principal, params.store),
    }),
  ];
}
