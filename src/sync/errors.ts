import { VaultError } from '../errors.js';

/** Why central refuses an appliance's sync call, or an appliance refuses a local change. */
export type SyncErrorCode =
  /** Enrolment: the one-time token is unknown, used or expired. */
  | 'ERR_ENROLMENT_TOKEN_INVALID'
  /** Enrolment: this vault already holds state (enrol a fresh data directory). */
  | 'ERR_ENROLMENT_NOT_EMPTY'
  | 'ERR_ENROLMENT_FAILED'
  | 'ERR_APPLIANCE_UNKNOWN'
  | 'ERR_APPLIANCE_EXISTS'
  | 'ERR_APPLIANCE_DISABLED'
  /** The appliance's signature over its challenge does not verify, or its sync token is unknown or expired. */
  | 'ERR_APPLIANCE_AUTH'
  | 'ERR_SYNC_NONCE_INVALID'
  /** `after` names a change central never wrote (its database was restored, or the cursor is forged). */
  | 'ERR_SYNC_CURSOR_AHEAD'
  /** A push batch that does not start where central's acknowledged sequence ends. */
  | 'ERR_SYNC_OUT_OF_ORDER'
  | 'ERR_SYNC_BATCH_INVALID'
  /** A lease central cannot grant (model unknown to the appliance, size out of bounds). */
  | 'ERR_SYNC_LEASE_INVALID'
  /** Vault-allocated serials of a model ran out of leased numbers while central is unreachable. */
  | 'ERR_SYNC_LEASE_EXHAUSTED'
  /** A local change to state that central owns, on an appliance. */
  | 'ERR_REPLICATED_READ_ONLY'
  /** This instance is not set up for the sync call asked of it (an appliance asked to serve appliances, central asked to enrol). */
  | 'ERR_SYNC_ROLE'
  /** Central could not be reached or answered with a fault; the appliance goes on offline. */
  | 'ERR_UPSTREAM_UNAVAILABLE';

export class SyncError extends VaultError {
  constructor(
    readonly code: SyncErrorCode,
    message: string,
    readonly detail?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'SyncError';
  }
}
