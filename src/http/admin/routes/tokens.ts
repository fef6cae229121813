import { z } from 'zod';
import type { AccountsService } from '../../../accounts/service.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';
import { name } from './common.js';

/** The caller's own access tokens. */
export function tokensRoutes(accounts: AccountsService): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/tokens',
      action: 'token.list',
      summary: 'The caller’s personal access tokens (never their secrets)',
      response: z.object({ items: z.array(S.Token) }).meta({ id: 'TokenList' }),
      handle: async ({ principal }) => ({ items: await accounts.listTokens(principal) }),
    }),

    route({
      method: 'post',
      path: '/api/v1/tokens',
      action: 'token.create',
      summary: 'Create a personal access token, limited to chosen stores and roles; its secret is shown once',
      body: z.strictObject({
        name: name(128),
        expiresInDays: z.number().int().min(1).default(30),
        stores: z.array(z.string()).min(1).max(100).optional(),
        roles: z.array(S.Role).min(1).optional(),
      }),
      status: 201,
      response: S.TokenCreated,
      handle: ({ principal, body }) => accounts.createToken(principal, { name: body.name, days: body.expiresInDays, ...(body.stores ? { stores: body.stores } : {}), ...(body.roles ? { roles: body.roles } : {}) }),
    }),

    route({
      method: 'delete',
      path: '/api/v1/tokens/:token',
      action: 'token.revoke',
      summary: 'Revoke one of the caller’s tokens',
      params: z.object({ token: z.coerce.number().int().positive() }),
      handle: ({ principal, params }) => accounts.revokeToken(principal, params.token),
    }),
  ];
}
