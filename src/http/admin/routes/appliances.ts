import { z } from 'zod';
import { actorOf } from '../../../accounts/principal.js';
import type { ApplianceService } from '../../../sync/appliances.js';
import { route, type AdminRoute } from '../route.js';
import { BrandParam } from './common.js';

const ApplianceParam = z.object({ brand: z.string().min(1).max(64), appliance: z.string().min(1).max(64) });

const Appliance = z
  .object({
    name: z.string(),
    store: z.string(),
    brand: z.string(),
    state: z.enum(['active', 'disabled']),
    enrolled: z.boolean(),
    identityKeyId: z.string().nullable(),
    createdAt: z.string(),
    enrolledAt: z.string().nullable(),
    disabledAt: z.string().nullable(),
    keys: z.array(z.object({ label: z.string(), purpose: z.string(), state: z.string(), keyId: z.string() })),
    sync: z
      .object({ lastPullAt: z.string(), cursor: z.number(), changesBehind: z.number(), lastPushAt: z.string().nullable(), issuancePushed: z.number() })
      .nullable()
      .describe('How the appliance keeps up, as central last saw it; null before its first pull'),
  })
  .meta({ id: 'Appliance' });

/** The appliances central serves for a brand: added with a one-time enrolment token, disabled at once when lost. */
export function applianceRoutes(appliances: ApplianceService): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/appliances',
      action: 'appliance.read',
      summary: "The brand's appliances: the store each serves, whether it has enrolled, its state and the keys its HSM holds",
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(Appliance) }),
      handle: async ({ params }) => ({ items: await appliances.list(params.brand) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/appliances/:appliance',
      action: 'appliance.read',
      summary: 'One appliance',
      operationId: 'appliance.get',
      params: ApplianceParam,
      target: ({ params }) => params.brand,
      response: Appliance,
      handle: ({ params }) => appliances.show(params.appliance, params.brand),
    }),
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/appliances',
      action: 'appliance.manage',
      summary: "Add an appliance serving a store of the brand; its one-time enrolment token is in the answer, and shown only then (serial-vault appliance enrol --token-file)",
      params: BrandParam,
      body: z.object({ name: z.string().min(1).max(40), store: z.string().min(1).max(64), expiresHours: z.number().int().min(1).max(24 * 30).optional() }),
      target: ({ params }) => params.brand,
      response: z.object({ appliance: Appliance, token: z.string(), expiresAt: z.string() }),
      status: 201,
      handle: ({ principal, params, body }) => appliances.add(body.name, body.store, actorOf(principal), { brand: params.brand, ...(body.expiresHours ? { expiresHours: body.expiresHours } : {}) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/brands/:brand/appliances/:appliance',
      action: 'appliance.manage',
      summary: 'Disable an appliance (its next sync call is refused, whichever replica it reaches) or enable it again',
      operationId: 'appliance.update',
      params: ApplianceParam,
      body: z.object({ disabled: z.boolean() }),
      target: ({ params }) => params.brand,
      response: Appliance,
      handle: ({ principal, params, body }) => (body.disabled ? appliances.disable(params.appliance, actorOf(principal), params.brand) : appliances.enable(params.appliance, actorOf(principal), params.brand)),
    }),
  ];
}
