import type { Logger } from 'pino';
import type { AccountsService } from './accounts/service.js';
import type { Config } from './config.js';
import type { AuditService } from './audit/service.js';
import type { Database } from './db/database.js';
import type { Metrics } from './http/metrics.js';
import type { KeyStore } from './keystore/keystore.js';
import type { ModelService } from './catalog/model-service.js';
import type { SnapService } from './catalog/snap-service.js';
import type { Custody } from './custody/custody.js';
import type { CeremonyService } from './custody/ceremonies.js';
import type { Finding } from './custody/key-health.js';
import type { ProvisioningService } from './provisioning/service.js';
import type { StoreService } from './store/store-service.js';
import type { SyncService } from './sync/service.js';

export const VERSION = '0.1.0';

/** The vault's parts, built in one place. */
export interface Vault {
  readonly config: Config;
  readonly db: Database;
  readonly keystore: KeyStore;
  /** Authorities, brands, their keys in the HSM and their trust chains. */
  readonly custody: Custody;
  readonly models: ModelService;
  /** Snaps, revisions, review, channels and each store's curation. */
  readonly snaps: SnapService;
  readonly provisioning: ProvisioningService;
  /** The store snapd talks to: device sessions, snap actions, info, find, assertions, files. */
  readonly store: StoreService;
  readonly accounts: AccountsService;
  /** Signed checkpoints of the audit chain, its verification and exports. */
  readonly audit: AuditService;
  /** Key actions that wait for M approvals from security officers. */
  readonly ceremonies: CeremonyService;
  /** Central: its appliances, the feed, pushes and leases. An appliance: its link to central. */
  readonly sync: SyncService;
  /** What security officers must notice about keys now (key-health.ts). */
  keyHealth(): Promise<Finding[]>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

export interface VaultOptions {
  readonly logger?: Logger;
  /** Tests may hand in a keystore; production always opens the configured HSM. */
  readonly keystore?: KeyStore;
}
