import { isTransientDbError } from '../db/errors.js';
import { KeyStoreError, TRANSIENT_KEYSTORE_ERRORS } from '../keystore/errors.js';
import { ProvisioningError } from './errors.js';

/** The serials column's size, checked here so that SQLite and PostgreSQL refuse alike. */
export const MAX_SERIAL_LENGTH = 128;

/** Turns faults that may pass into "come back later" (a 503 snapd retries), leaving everything else as it is. */
export function transient(e: unknown): never {
  if (e instanceof KeyStoreError && TRANSIENT_KEYSTORE_ERRORS.has(e.code)) {
    throw new ProvisioningError('ERR_TEMPORARILY_UNAVAILABLE', 'the signing service is temporarily unavailable; try again shortly', { cause: e });
  }
  if (isTransientDbError(e)) throw new ProvisioningError('ERR_TEMPORARILY_UNAVAILABLE', 'the vault database is temporarily unavailable; try again shortly', { cause: e });
  throw e;
}
