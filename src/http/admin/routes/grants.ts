import { z } from 'zod';
import type { AccountsService } from '../../../accounts/service.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';
import { StoreParam } from './common.js';

/** Role grants on a store. */
export function grantsRoutes(accounts: AccountsService): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/stores/:store/grants',
      action: 'grant.list',
      summary: 'Roles that reach a store: granted there, or inherited from the stores above a product sub-store',
      params: StoreParam,
      target: ({ params }) => params.store,
      response: z.object({ items: z.array(S.Grant) }).meta({ id: 'GrantList' }),
      handle: async ({ params }) => ({ items: await accounts.listGrants(params.store) }),
    }),

    route({
      method: 'post',
      path: '/api/v1/stores/:store/grants',
      action: 'grant.create',
      summary: 'Grant a role on a store to a person',
      params: StoreParam,
      body: z.strictObject({ email: z.string().min(3).max(320), role: S.Role }),
      target: ({ params }) => params.store,
      status: 201,
      response: S.DirectGrant,
      handle: ({ principal, params, body }) => accounts.grant(principal, params.store, body.email, body.role),
    }),

    route({
      method: 'delete',
      path: '/api/v1/stores/:store/grants/:role/:email',
      action: 'grant.revoke',
      summary: 'Revoke a role granted on a store (the last administrator stays)',
      params: StoreParam.extend({ role: S.Role, email: z.string().min(3).max(320) }),
      target: ({ params }) => params.store,
      handle: ({ principal, params }) => accounts.revoke(principal, params.store, params.email, params.role),
    }),
  ];
}
