import type { ApplianceAuth } from '../../sync/appliance-auth.js';
import type { Enrolment } from '../../sync/enrolment.js';
import { sendSyncJson, syncJsonBody, type SyncRoute } from '../sync-app.js';

/**
 * The sync routes an appliance calls before it has a token: enrolment (a
 * preview of what its token is for, then the enrolment itself), nonces,
 * and sessions that exchange a signed nonce for a sync token.
 */
export function enrolRoutes(parts: { enrolment: Enrolment; auth: ApplianceAuth }): SyncRoute[] {
  return [
    {
      name: 'enrol-preview',
      method: 'POST',
      path: /^enrol\/preview$/,
      authenticated: false,
      handle: async (ctx) => sendSyncJson(ctx, 200, await parts.enrolment.preview(await syncJsonBody(ctx))),
    },
    {
      name: 'enrol',
      method: 'POST',
      path: /^enrol$/,
      authenticated: false,
      handle: async (ctx) => sendSyncJson(ctx, 201, await parts.enrolment.enrol(await syncJsonBody(ctx), ctx.ip || null)),
    },
    {
      name: 'nonces',
      method: 'POST',
      path: /^nonces$/,
      authenticated: false,
      handle: async (ctx) => sendSyncJson(ctx, 200, { nonce: await parts.auth.nonce() }),
    },
    {
      name: 'sessions',
      method: 'POST',
      path: /^sessions$/,
      authenticated: false,
      handle: async (ctx) => sendSyncJson(ctx, 200, await parts.auth.open(await syncJsonBody(ctx))),
    },
  ];
}
