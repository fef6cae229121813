import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BlobStore } from '../catalog/blobs.js';
import type { Config } from '../config.js';
import type { Custody } from '../custody/custody.js';
import type { Database } from '../db/database.js';
import type { KeyStore } from '../keystore/keystore.js';
import { SyncAgent, type SyncStatus } from './agent.js';
import { ApplianceAuth } from './appliance-auth.js';
import { ApplianceService } from './appliances.js';
import { Applier } from './applier.js';
import { SyncConflicts, type SyncConflict } from './conflicts.js';
import { Enrolment } from './enrolment.js';
import { SyncError } from './errors.js';
import { ChangeFeed } from './feed.js';
import { LeaseKeeper } from './lease-keeper.js';
import { LeaseGrants } from './leases.js';
import { Puller } from './puller.js';
import { PushReceiver } from './push-receiver.js';
import { Pusher } from './pusher.js';
import { UpstreamClient } from './upstream-client.js';

/** Settings an enrolled appliance keeps (enrol-client.ts writes them). */
export const APPLIANCE_NAME_SETTING = 'sync-appliance-name';
export const IDENTITY_LABEL_SETTING = 'sync-identity-label';

async function setting(db: Database, name: string): Promise<string | undefined> {
  const row = (await db('settings').where({ name }).first('value')) as { value?: string } | undefined;
  return row?.value;
}

/** What central runs for its appliances: their register, enrolment, sign-in, the feed, pushes and leases. */
export interface CentralSync {
  readonly role: 'central';
  readonly appliances: ApplianceService;
  readonly auth: ApplianceAuth;
  readonly enrolment: Enrolment;
  readonly feed: ChangeFeed;
  readonly receiver: PushReceiver;
  readonly leases: LeaseGrants;
  readonly conflicts: SyncConflicts;
  readonly blobs: BlobStore;
}

/** What an appliance runs towards central. */
export interface ApplianceSync {
  readonly role: 'appliance';
  readonly name: string | undefined;
  readonly upstream: UpstreamClient;
  readonly applier: Applier;
  readonly leases: LeaseKeeper;
  readonly agent: SyncAgent;
  status(): Promise<SyncStatus>;
}

export type SyncService = CentralSync | ApplianceSync;

export interface SyncParts {
  readonly db: Database;
  readonly keystore: KeyStore;
  readonly custody: Custody;
  readonly blobs: BlobStore;
  readonly logger: Logger;
  readonly onConflicts?: (conflicts: readonly SyncConflict[]) => void;
  /** An appliance's link status every few seconds (the metrics). */
  readonly onStatus?: (status: SyncStatus) => void;
}

/**
 * The sync side of an instance, by its role: with `upstream` in its
 * configuration it is an appliance (its lease keeper must then number the
 * serials, so this is built before provisioning), without it central.
 */
export async function openSync(config: Config, parts: SyncParts): Promise<SyncService> {
  const { db, logger } = parts;
  const upstream = config.upstream;
  if (!upstream) {
    return {
      role: 'central',
      appliances: new ApplianceService(db),
      auth: new ApplianceAuth(db, { tokenMinutes: config.sync.tokenMinutes }),
      enrolment: new Enrolment(db, parts.custody),
      feed: new ChangeFeed(db),
      receiver: new PushReceiver(db, { ...(parts.onConflicts ? { onConflicts: parts.onConflicts } : {}) }),
      leases: new LeaseGrants(db),
      conflicts: new SyncConflicts(db),
      blobs: parts.blobs,
    };
  }
  const name = await setting(db, APPLIANCE_NAME_SETTING);
  const label = await setting(db, IDENTITY_LABEL_SETTING);
  if (!name || !label) {
    throw new SyncError('ERR_SYNC_ROLE', `upstream.url is set in ${join(config.dataDir, 'config.json')} but this vault was never enrolled: run "serial-vault appliance enrol --upstream URL --token-file F", or remove upstream to run it standalone`);
  }
  const client = new UpstreamClient({ url: upstream.url, caFile: upstream.caFile, timeoutMs: upstream.timeoutSeconds * 1000 }, { name, label, keystore: parts.keystore });
  // For the refusal of a local write to central's state, which names where to make it instead.
  await db('settings').insert({ name: 'sync-upstream-url', value: client.url }).onConflict('name').merge();
  const applier = new Applier(db);
  const onError = (what: string) => (e: unknown) => logger.warn({ code: (e as { code?: string }).code ?? 'ERR_INTERNAL' }, `sync: ${what}: ${(e as Error).message}`);
  const leases = new LeaseKeeper(db, client, { leaseSize: upstream.leaseSize, onError: (model, e) => onError(`lease for ${model}`)(e) });
  const puller = new Puller(client, applier, { waitSeconds: upstream.waitSeconds, logger });
  const pusher = new Pusher(db, client, { everyMs: upstream.pushEverySeconds * 1000, onError: onError('push to central') });
  const agent = new SyncAgent({ puller, pusher, leases }, { upstream: client.url, appliance: async () => name, logger, ...(parts.onStatus ? { onStatus: parts.onStatus } : {}) });
  return { role: 'appliance', name, upstream: client, applier, leases, agent, status: () => agent.status() };
}
