import { z } from 'zod';
import type { SnapService } from '../../../catalog/snap-service.js';
import * as C from '../catalog-schemas.js';
import { route, type AdminRoute } from '../route.js';
import { StoreParam } from './common.js';

const SnapParam = StoreParam.extend({ name: z.string().min(1).max(40) });

/** What a store offers beyond its own snaps, and its review policy: the Store Administrator's. */
export function curationRoutes(snaps: SnapService): AdminRoute[] {
  return [
    route({
      method: 'put',
      path: '/api/v1/stores/:store/curation/:name',
      action: 'store.curate',
      summary: "Include a snap of another store in this store's offer, exclude one, or (mode null) drop the store's choice",
      params: SnapParam,
      body: z.strictObject({ mode: z.enum(['include', 'exclude']).nullable() }),
      target: ({ params }) => params.store,
      handle: async ({ principal, params, body }) => snaps.curate(principal, params.store, params.name, body.mode),
    }),
    route({
      method: 'put',
      path: '/api/v1/stores/:store/pins/:name',
      action: 'store.curate',
      operationId: 'storePin',
      summary: 'Pin an approved revision of a snap on a channel in this store and the stores that inherit from it (revision null unpins)',
      params: SnapParam,
      body: z.strictObject({ channel: z.string().min(1).max(128), revision: z.number().int().positive().nullable() }),
      target: ({ params }) => params.store,
      handle: async ({ principal, params, body }) => snaps.pin(principal, params.store, params.name, body.channel, body.revision),
    }),
    route({
      method: 'get',
      path: '/api/v1/stores/:store/review-policy',
      action: 'snap.list',
      operationId: 'storeReviewPolicy',
      summary: "Whether the store's uploads need a Reviewer's approval before release",
      params: StoreParam,
      target: ({ params }) => params.store,
      response: C.ReviewPolicy,
      handle: async ({ params }) => ({ store: params.store, reviewRequired: await snaps.reviewRequired(params.store) }),
    }),
    route({
      method: 'put',
      path: '/api/v1/stores/:store/review-policy',
      action: 'store.policy',
      summary: "Set whether the store's uploads need review",
      params: StoreParam,
      body: z.strictObject({ reviewRequired: z.boolean() }),
      target: ({ params }) => params.store,
      response: C.ReviewPolicy,
      handle: async ({ principal, params, body }) => {
        await snaps.setReviewPolicy(principal, params.store, body.reviewRequired);
        return { store: params.store, reviewRequired: body.reviewRequired };
      },
    }),
  ];
}
