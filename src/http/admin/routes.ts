import { z } from 'zod';
import type { AccountsService } from '../../accounts/service.js';
import { route, type AdminRoute } from './route.js';
import * as S from './schemas.js';

const StoreParam = z.object({ store: z.string().min(1).max(64) });
const PersonParam = z.object({ person: z.coerce.number().int().positive() });
const name = (max: number) => z.string().trim().min(1).max(max);

/**
 * The admin API (`/api/v1/…`). Each entry names its policy action; the
 * router adds authentication and the policy check, and the OpenAPI
 * document is written from this same list.
 */
export function adminRoutes(accounts: AccountsService, csrfFor: (sessionId: string) => string): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/me',
      action: 'me.read',
      summary: 'Who is calling: the person, their roles per store, the token used',
      response: S.Me,
      handle: async ({ principal }) => {
        const me = await accounts.me(principal);
        const sessionId = principal.kind === 'person' && principal.via === 'session' ? principal.sessionId : undefined;
        return { ...me, csrfToken: sessionId ? csrfFor(sessionId) : null };
      },
    }),

    route({
      method: 'get',
      path: '/api/v1/brands',
      action: 'brand.list',
      summary: 'Brands where the caller holds a role on some store',
      response: z.object({ items: z.array(S.Brand) }).meta({ id: 'BrandList' }),
      handle: async ({ principal }) => ({ items: await accounts.listBrands(principal) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand',
      action: 'brand.read',
      summary: 'A brand account (any role on its brand store)',
      params: z.object({ brand: z.string().min(1).max(64) }),
      target: ({ params }) => params.brand,
      response: S.Brand,
      handle: ({ params }) => accounts.brand(params.brand),
    }),

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
    route({
      method: 'get',
      path: '/api/v1/stores/:store/audit',
      action: 'audit.read',
      summary: 'Changes to a store and the stores below it, newest first',
      params: StoreParam,
      query: z.object({ before: z.coerce.number().int().positive().optional(), limit: S.Limit }),
      target: ({ params }) => params.store,
      response: S.page(S.AuditEntry, 'AuditEntry'),
      handle: ({ principal, params, query }) => accounts.audit(principal, params.store, strip(query)),
    }),

    route({
      method: 'get',
      path: '/api/v1/people',
      action: 'person.list',
      summary: 'People holding roles on stores the caller administers, and people with no role yet',
      query: z.object({ email: z.string().optional().meta({ description: 'part of the email' }), after: z.coerce.number().int().optional(), limit: S.Limit }),
      response: S.page(S.Person, 'Person'),
      handle: ({ principal, query }) => accounts.listPeople(principal, strip(query)),
    }),
    route({
      method: 'post',
      path: '/api/v1/people',
      action: 'person.add',
      summary: 'Add a person, identified by email, so that they can sign in and be granted roles',
      body: z.strictObject({ email: z.string().min(3).max(320), displayName: z.string().trim().max(256).optional() }),
      status: 201,
      response: S.Person,
      handle: ({ principal, body }) => accounts.addPerson(principal, body.email, body.displayName ?? ''),
    }),
    route({
      method: 'get',
      path: '/api/v1/people/:person',
      action: 'person.read',
      summary: 'A person and the roles granted to them',
      params: PersonParam,
      response: S.PersonDetail,
      handle: ({ principal, params }) => accounts.person(principal, params.person),
    }),
    route({
      method: 'patch',
      path: '/api/v1/people/:person',
      action: 'person.update',
      summary: 'Rename, disable or re-enable a person (disabling ends their sessions)',
      params: PersonParam,
      body: z.strictObject({ displayName: name(256).optional(), status: z.enum(['active', 'disabled']).optional() }),
      response: S.Person,
      handle: ({ principal, params, body }) => accounts.updatePerson(principal, params.person, strip(body)),
    }),

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

/** Drops keys whose value is undefined (the service's options are exact). */
function strip<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
