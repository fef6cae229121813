import { z } from 'zod';
import type { AccountsService } from '../../../accounts/service.js';
import type { AuditService } from '../../../audit/service.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';
import { BrandParam, StoreParam, strip } from './common.js';

const Verdict = z
  .object({
    ok: z.boolean(),
    entries: z.number().describe('Entries read before the verdict'),
    head: z.string().optional().describe('The hash of the last entry, when the chain holds'),
    seq: z.number().optional().describe('The first entry that breaks the chain'),
    problem: z.string().optional(),
    reason: z.string().optional(),
    checkpoints: z.number(),
    signedUpTo: z.number().describe('The last entry a good signed checkpoint covers (0: none)'),
    keyId: z.string().nullable().describe('The audit key checkpoints are checked against'),
  })
  .meta({ id: 'AuditVerdict' });

/** A store's audit entries, and the vault's audit chain verified. */
export function auditRoutes(accounts: AccountsService, audit: Pick<AuditService, 'verify'>): AdminRoute[] {
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
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/audit/verify',
      action: 'audit.verify',
      summary: "The vault's audit chain and its signed checkpoints, verified now (as serial-vault audit verify does)",
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: Verdict,
      handle: () => audit.verify(),
    }),
  ];
}
