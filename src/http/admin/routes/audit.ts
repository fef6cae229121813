import { z } from 'zod';
import type { AccountsService } from '../../../accounts/service.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';
import { StoreParam, strip } from './common.js';

/** A store's audit entries. */
export function auditRoutes(accounts: AccountsService): AdminRoute[] {
  return [
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
  ];
}
