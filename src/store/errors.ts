import { VaultError } from '../errors.js';

/** Why the store listener refuses what a device (snapd) asks. */
export type StoreErrorCode =
  /** The session request is not JSON, or lacks one of its three assertions. */
  | 'ERR_SESSION_REQUEST_INVALID'
  /** The nonce was not handed out here, was used already or is too old: snapd asks for a new one. */
  | 'ERR_NONCE_INVALID'
  /** The serial, model or device-session-request does not verify, or is of a brand this vault does not serve. */
  | 'ERR_DEVICE_UNTRUSTED'
  /** No session, an expired one or one this vault never made: snapd makes a new one and retries. */
  | 'ERR_DEVICE_SESSION_INVALID'
  /** The device's store does not offer that snap (or it does not exist). */
  | 'ERR_STORE_SNAP_UNKNOWN'
  /** No such assertion, or none the device may see. */
  | 'ERR_ASSERTION_NOT_FOUND'
  /** A Range header past the end of the file. */
  | 'ERR_RANGE_NOT_SATISFIABLE'
  /** A snap action request that is not a JSON object with lists of actions and context. */
  | 'ERR_ACTION_INVALID';

export class StoreError extends VaultError {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** The codes snapd's store client reads in error lists, for each refusal. */
export const SNAPD_CODE: Readonly<Record<StoreErrorCode, string>> = {
  ERR_SESSION_REQUEST_INVALID: 'invalid-request',
  ERR_NONCE_INVALID: 'invalid-credentials',
  ERR_DEVICE_UNTRUSTED: 'invalid-credentials',
  ERR_DEVICE_SESSION_INVALID: 'device-authorization-needs-refresh',
  ERR_STORE_SNAP_UNKNOWN: 'resource-not-found',
  ERR_ASSERTION_NOT_FOUND: 'not-found',
  ERR_RANGE_NOT_SATISFIABLE: 'invalid-range',
  ERR_ACTION_INVALID: 'invalid-request',
};
