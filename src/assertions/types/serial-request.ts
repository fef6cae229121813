import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import { checkNotEmptyString, checkOptionalString } from '../checks.js';
import type { PublicKey } from '../public-key.js';
import { checkDeviceKey } from './device-key.js';
import { checkModelName } from './model.js';

/** What a device sends to ask for a serial, signed by its own device key. */
export interface SerialRequestView {
  readonly brandId: string;
  readonly model: string;
  readonly requestId: string;
  /** The serial the device proposes (the gadget's `registration.proposed-serial`), or ''. */
  readonly serial: string;
  readonly deviceKey: PublicKey;
  /** Set on remodel requests. */
  readonly originalBrandId: string;
  readonly originalModel: string;
  readonly originalSerial: string;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'serial-request': SerialRequestView;
  }
}

export const serialRequestType: TypeSpec<SerialRequestView> = {
  name: 'serial-request',
  primaryKey: [],
  noAuthority: true,
  check({ headers, signKeyId }) {
    const brandId = checkNotEmptyString(headers, 'brand-id');
    const model = checkModelName(headers);
    const requestId = checkNotEmptyString(headers, 'request-id');
    const serial = checkOptionalString(headers, 'serial');
    const deviceKey = checkDeviceKey(headers);
    if (deviceKey.id !== signKeyId) {
      throw new AssertionError('ERR_HEADER_MISMATCH', 'device key does not match the included signing key id in "sign-key-sha3-384"', {
        header: 'sign-key-sha3-384',
      });
    }
    return {
      brandId,
      model,
      requestId,
      serial,
      deviceKey,
      originalBrandId: checkOptionalString(headers, 'original-brand-id'),
      originalModel: checkOptionalString(headers, 'original-model'),
      originalSerial: checkOptionalString(headers, 'original-serial'),
    };
  },
  signingKey: (a) => a.view.deviceKey,
};
