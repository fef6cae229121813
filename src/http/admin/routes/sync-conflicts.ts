import { z } from 'zod';
import type { SyncConflicts } from '../../../sync/conflicts.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';

const Side = z.object({ origin: z.string().meta({ description: 'the instance id, or appliance:NAME' }), deviceKey: z.string().meta({ description: "the device key's SHA3-384 id" }) });
const Conflict = z
  .object({ id: z.number().int(), brand: z.string(), model: z.string(), serial: z.string(), sides: z.array(Side).length(2), detectedAt: z.string() })
  .meta({ id: 'SyncConflict', description: 'a serial two origins (central, appliances) gave to two device keys; reported, never merged' });

/**
 * Conflicts central found in what appliances pushed: serials devices
 * proposed that two appliances issued to different devices while cut off.
 * Without a reader (an instance not wired for sync) there are none to list.
 */
export function syncConflictRoutes(conflicts: Pick<SyncConflicts, 'list'> | undefined): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/sync/conflicts',
      action: 'sync-conflict.read',
      summary: "A brand's serial conflicts between appliances, newest first",
      query: z.object({ brand: z.string().min(1).max(64), before: z.coerce.number().int().positive().optional(), limit: S.Limit }),
      target: ({ query }) => query.brand,
      response: z.object({ items: z.array(Conflict) }),
      handle: async ({ query }) => ({
        items: conflicts ? await conflicts.list(query.brand, { limit: query.limit ?? 50, ...(query.before !== undefined ? { before: query.before } : {}) }) : [],
      }),
    }),
  ];
}
