import { AssertionError } from '../errors.js';
import type { AssertionParts } from '../assertion.js';
import { checkNotEmptyString } from '../checks.js';
import { PublicKey } from '../public-key.js';

/** The public key in the body of an account-key or account-key-request, checked against its id header. */
export function checkBodyPublicKey(parts: AssertionParts, idHeader: string): PublicKey {
  if (!parts.body) {
    throw new AssertionError('ERR_PUBLIC_KEY_INVALID', 'cannot decode public key: the body is empty');
  }
  const key = PublicKey.decode(parts.body.toString('utf8'));
  const id = checkNotEmptyString(parts.headers, idHeader);
  if (id !== key.id) {
    throw new AssertionError('ERR_HEADER_MISMATCH', `public key does not match the provided key id in "${idHeader}"`, {
      header: idHeader,
    });
  }
  return key;
}
