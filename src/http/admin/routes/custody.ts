import { z } from 'zod';
import type { Principal } from '../../../accounts/principal.js';
import { CEREMONY_ACTIONS } from '../../../custody/ceremony-store.js';
import type { CeremonyService } from '../../../custody/ceremonies.js';
import type { Custody } from '../../../custody/custody.js';
import { exportChain } from '../../../custody/chain-export.js';
import type { Finding } from '../../../custody/key-health.js';
import { ceremonyView, keyViews, outcomeView } from '../../../custody/views.js';
import type { Ceremony } from '../../../custody/ceremony-store.js';
import { route, type AdminRoute } from '../route.js';
import { BrandParam } from './common.js';

/** What the custody routes call: the ceremonies, the keys, and the health report. */
export interface CustodyApi {
  readonly custody: Custody;
  readonly ceremonies: CeremonyService;
  keyHealth(): Promise<Finding[]>;
}

const CeremonyParam = z.object({ brand: z.string().min(1).max(64), id: z.coerce.number().int().positive() });

const Key = z.object({ label: z.string(), keyId: z.string(), purpose: z.string(), name: z.string(), state: z.enum(['pending', 'active', 'retired', 'revoked']), since: z.string(), until: z.string().nullable(), replacedBy: z.string().nullable(), accountKeyRequest: z.string().nullable() }).meta({ id: 'SigningKey' });
const Ceremony = z
  .object({
    id: z.number(),
    brand: z.string(),
    action: z.enum(CEREMONY_ACTIONS),
    params: z.record(z.string(), z.string()).meta({ description: 'what runs when approved, in full' }),
    proposedBy: z.string(),
    proposedAt: z.string(),
    expiresAt: z.string(),
    approvalsNeeded: z.number(),
    approvals: z.array(z.object({ approver: z.string(), at: z.string() })),
    state: z.enum(['proposed', 'executing', 'executed', 'failed']),
    executedAt: z.string().nullable(),
    result: z.unknown(),
  })
  .meta({ id: 'Ceremony' });
const Outcome = z.object({ outcome: z.enum(['executed', 'proposed']), ceremony: Ceremony.nullable(), result: z.unknown() }).meta({ id: 'CeremonyOutcome' });
const FindingShape = z.object({ kind: z.string(), brand: z.string(), subject: z.string(), message: z.string() }).meta({ id: 'KeyHealthFinding' });

/** Key states, health, the brand's chain, and ceremonies: propose, approve, read. */
export function custodyRoutes(api: CustodyApi): AdminRoute[] {
  const brandOf = (id: string) => api.ceremonies.brand(id);
  const ofBrand = (brand: string, id: number) => api.ceremonies.ofBrand(brand, id);
  return [
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/keys',
      action: 'key.read',
      summary: "The brand's signing keys with their purpose, state and window",
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: z.object({ keys: z.array(Key) }),
      handle: async ({ params }) => {
        return { keys: keyViews(await api.custody.keys.ofBrand((await brandOf(params.brand)).id), new Date()) };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/keys/health',
      action: 'key.read',
      summary: "What needs attention about the brand's keys (the key health report)",
      operationId: 'keyHealth',
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: z.object({ findings: z.array(FindingShape) }),
      handle: async ({ params }) => ({ findings: (await api.keyHealth()).filter((f) => f.brand === params.brand) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/chain',
      action: 'key.read',
      summary: "The brand's account and every registered account-key, to verify what it signed",
      operationId: 'exportChain',
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: z.object({ assertions: z.array(z.string()), keys: z.array(z.object({ label: z.string(), keyId: z.string(), purpose: z.string(), state: z.string() })) }),
      handle: async ({ params }) => {
        const chain = await exportChain(api.custody, await brandOf(params.brand), new Date());
        return { assertions: chain.assertions.map((a) => a.encode().toString('utf8')), keys: chain.keys };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/ceremonies',
      action: 'ceremony.read',
      summary: "The brand's ceremonies, newest first",
      params: BrandParam,
      query: z.object({ open: z.enum(['true', 'false']).optional() }),
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(Ceremony) }),
      handle: async ({ params, query }) => ({ items: (await api.ceremonies.list({ brand: params.brand, ...(query.open ? { open: query.open === 'true' } : {}) })).map((c) => ceremonyView(c, params.brand)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/ceremonies/:id',
      action: 'ceremony.read',
      summary: 'One ceremony: what it runs, who approved, where it stands',
      operationId: 'ceremony.get',
      params: CeremonyParam,
      target: ({ params }) => params.brand,
      response: Ceremony,
      handle: async ({ params }) => ceremonyView(await ofBrand(params.brand, params.id), params.brand),
    }),
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/ceremonies',
      action: 'ceremony.propose',
      summary: 'Propose a guarded key action (or run it, when the brand’s policy does not guard it)',
      params: BrandParam,
      body: z.object({ action: z.enum(CEREMONY_ACTIONS), params: z.record(z.string(), z.string().max(256)).default({}), expiresInSeconds: z.number().int().min(1).max(30 * 86400).optional() }),
      target: ({ params }) => params.brand,
      response: Outcome,
      status: 201,
      handle: async ({ principal, params, body }) => outcomeView(await request(api, principal, body.action, { ...body.params, brand: params.brand }, body.expiresInSeconds), params.brand),
    }),
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/ceremonies/:id/approve',
      action: 'ceremony.approve',
      summary: 'Approve a ceremony as a security officer; the approval that completes it runs it',
      params: CeremonyParam,
      target: ({ params }) => params.brand,
      response: Outcome,
      handle: async ({ principal, params }) => {
        await ofBrand(params.brand, params.id);
        return outcomeView(await api.ceremonies.approve(principal, params.id), params.brand);
      },
    }),
  ];
}

const request = (api: CustodyApi, principal: Principal, action: (typeof CEREMONY_ACTIONS)[number], params: Record<string, string>, expiresInSeconds?: number) =>
  api.ceremonies.request(principal, action, params, expiresInSeconds !== undefined ? { expiresInSeconds } : {});

