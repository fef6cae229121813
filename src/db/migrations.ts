import type { Knex } from 'knex';
import { deviceRegistration } from './migrations/0001-device-registration.js';
import { statelessRequestIds } from './migrations/0002-stateless-request-ids.js';
import { accountsStoresRoles } from './migrations/0003-accounts-stores-roles.js';
import { tokenParents } from './migrations/0004-token-parents.js';
import { auditChainOutbox } from './migrations/0005-audit-chain-outbox.js';
import { issuanceOrigin } from './migrations/0006-issuance-origin.js';
import { catalog } from './migrations/0007-catalog.js';
import { deviceSessions } from './migrations/0008-device-sessions.js';
import { keyLifecycle } from './migrations/0009-key-lifecycle.js';
import { auditCheckpoints } from './migrations/0010-audit-checkpoints.js';
import { factoryLines } from './migrations/0011-factory-lines.js';
import { syncFeed } from './migrations/0012-sync-feed.js';
import { appliances } from './migrations/0013-appliances.js';
import { syncPushLeases } from './migrations/0014-sync-push-leases.js';

/**
 * The schema, one entry per change, never edited once released. Runs
 * unchanged on SQLite and PostgreSQL: portable types only, timestamps as
 * ISO 8601 text in UTC (both drivers return them as the same strings).
 */
export const MIGRATIONS: ReadonlyArray<{ name: string; up: (db: Knex) => Promise<void>; down: (db: Knex) => Promise<void> }> = [
  deviceRegistration,
  statelessRequestIds,
  accountsStoresRoles,
  tokenParents,
  auditChainOutbox,
  issuanceOrigin,
  catalog,
  deviceSessions,
  keyLifecycle,
  auditCheckpoints,
  factoryLines,
  syncFeed,
  appliances,
  syncPushLeases,
];

