import { z } from 'zod';
import type { AccountsService } from '../../../accounts/service.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';
import { PersonParam, name, strip } from './common.js';

/** People, identified by email. */
export function peopleRoutes(accounts: AccountsService): AdminRoute[] {
  return [
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
  ];
}
