import type { HeaderMap } from '../headers.js';
import { checkNotEmptyString } from '../checks.js';
import { PublicKey } from '../public-key.js';
import { AssertionError } from '../errors.js';

/** The `device-key` header, decoded. Errors name the header. */
export function checkDeviceKey(headers: HeaderMap): PublicKey {
  const encoded = checkNotEmptyString(headers, 'device-key');
  try {
    return PublicKey.decode(encoded);
  } catch (e) {
    if (e instanceof AssertionError) {
      throw new AssertionError(e.code, `"device-key" header: ${e.message}`, { header: 'device-key', cause: e });
    }
    throw e;
  }
}
