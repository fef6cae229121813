import type { AccountsService } from '../../accounts/service.js';
import type { SnapService } from '../../catalog/snap-service.js';
import type { AdminRoute } from './route.js';
import { meRoutes } from './routes/me.js';
import { brandsRoutes } from './routes/brands.js';
import { storesRoutes } from './routes/stores.js';
import { grantsRoutes } from './routes/grants.js';
import { peopleRoutes } from './routes/people.js';
import { tokensRoutes } from './routes/tokens.js';
import { auditRoutes } from './routes/audit.js';
import { snapsRoutes } from './routes/snaps.js';
import { curationRoutes } from './routes/curation.js';
import { custodyRoutes, type CustodyApi } from './routes/custody.js';
import { stationRoutes } from './routes/stations.js';
import { systemUserRoutes } from './routes/system-users.js';
import { hardwareIdentityRoutes } from './routes/hardware-identities.js';
import { allowListRoutes } from './routes/allowlists.js';
import type { ProvisioningService } from '../../provisioning/service.js';
import type { SyncConflicts } from '../../sync/conflicts.js';
import { syncConflictRoutes } from './routes/sync-conflicts.js';
import type { ApplianceService } from '../../sync/appliances.js';
import { applianceRoutes } from './routes/appliances.js';
import type { AuditService } from '../../audit/service.js';
import { modelRoutes } from './routes/models.js';
import { issuanceRoutes } from './routes/issuances.js';

/** The services the admin API calls: the same ones the CLI calls, as the signed-in person. */
export interface AdminServices {
  readonly accounts: AccountsService;
  readonly snaps: SnapService;
  /** Keys and ceremonies. */
  readonly custody: CustodyApi;
  /** Factory lines: stations, allow-lists, hardware identities, system-users, remodel rules, reports, the issuance log. */
  readonly provisioning: ProvisioningService;
  /** The audit chain's verification (audit/service.ts). */
  readonly audit: Pick<AuditService, 'verify'>;
  /** Central: serial conflicts found in appliances' pushes (sync/conflicts.ts); none listed without it. */
  readonly syncConflicts?: Pick<SyncConflicts, 'list'>;
  /** Central: the appliances it serves (sync/appliances.ts); their routes are served only with it. */
  readonly appliances?: ApplianceService;
}

/**
 * The admin API (`/api/v1/…`), one file per resource in `routes/`. Each
 * entry names its policy action; the router adds authentication and the
 * policy check, and the OpenAPI document is written from this same list.
 */
export function adminRoutes(api: AdminServices, csrfFor: (sessionId: string) => string): AdminRoute[] {
  const { accounts, snaps, custody, provisioning } = api;
  return [
    ...meRoutes(accounts, csrfFor),
    ...brandsRoutes(accounts),
    ...storesRoutes(accounts),
    ...grantsRoutes(accounts),
    ...auditRoutes(accounts, api.audit),
    ...peopleRoutes(accounts),
    ...tokensRoutes(accounts),
    ...snapsRoutes(snaps),
    ...curationRoutes(snaps),
    ...custodyRoutes(custody),
    ...stationRoutes(provisioning.factory),
    ...modelRoutes(provisioning.factory),
    ...issuanceRoutes(provisioning.issuances),
    ...allowListRoutes(provisioning),
    ...systemUserRoutes(provisioning.systemUsers),
    ...hardwareIdentityRoutes({ hardwareIdentities: provisioning.hardwareIdentities, custody: custody.custody }),
    ...syncConflictRoutes(api.syncConflicts),
    // Central's appliances; an instance built without the service (an appliance) serves none.
    ...(api.appliances ? applianceRoutes(api.appliances) : []),
  ];
}
