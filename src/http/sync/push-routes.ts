import type { LeaseGrants } from '../../sync/leases.js';
import type { PushReceiver } from '../../sync/push-receiver.js';
import type { ApplianceContext } from '../../sync/upstream.js';
import { sendSyncJson, syncJsonBody, type SyncRoute } from '../sync-app.js';

/** The appliance is always set on authenticated routes; this only narrows the type. */
const who = (appliance: ApplianceContext | null): ApplianceContext => appliance!;

/**
 * What an appliance sends central: batches of its issuance log, audit
 * checkpoints and station counters (idempotent by appliance and sequence),
 * and requests for ranges of serial template numbers.
 */
export function pushRoutes(parts: { receiver: PushReceiver; leases: LeaseGrants }): SyncRoute[] {
  return [
    {
      name: 'push',
      method: 'POST',
      path: /^push$/,
      authenticated: true,
      handle: async (ctx, appliance) => sendSyncJson(ctx, 200, await parts.receiver.receive(who(appliance), await syncJsonBody(ctx))),
    },
    {
      name: 'leases',
      method: 'POST',
      path: /^leases$/,
      authenticated: true,
      handle: async (ctx, appliance) => sendSyncJson(ctx, 201, await parts.leases.grant(who(appliance), await syncJsonBody(ctx))),
    },
  ];
}
