import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import { VALID_ACCOUNT_ID, checkDate, checkNotEmptyString, checkStringMatches } from '../checks.js';
import type { PublicKey } from '../public-key.js';
import { checkDeviceKey } from './device-key.js';
import { checkModelName } from './model.js';

export interface SerialView {
  readonly brandId: string;
  readonly model: string;
  readonly serial: string;
  readonly deviceKey: PublicKey;
  readonly deviceKeyId: string;
  readonly timestamp: Date;
}

declare module '../assertion.js' {
  interface ViewsByType {
    serial: SerialView;
  }
}

/** The series snapd runs; models are looked up under it. */
export const SERIES = '16';

export const serialType: TypeSpec<SerialView> = {
  name: 'serial',
  primaryKey: ['brand-id', 'model', 'serial'],
  check({ headers }) {
    const brandId = checkStringMatches(headers, 'brand-id', VALID_ACCOUNT_ID);
    const model = checkModelName(headers);
    const deviceKey = checkDeviceKey(headers);
    const deviceKeyId = checkNotEmptyString(headers, 'device-key-sha3-384');
    if (deviceKeyId !== deviceKey.id) {
      throw new AssertionError('ERR_HEADER_MISMATCH', 'device key does not match the provided key id in "device-key-sha3-384"', {
        header: 'device-key-sha3-384',
      });
    }
    return {
      brandId,
      model,
      serial: checkNotEmptyString(headers, 'serial'),
      deviceKey,
      deviceKeyId,
      timestamp: checkDate(headers, 'timestamp'),
    };
  },
  consistency(a, db) {
    const { brandId, model } = a.view;
    if (a.authorityId === brandId) return;
    const modelAssertion = db.find('model', [SERIES, brandId, model]);
    if (!modelAssertion) {
      throw new AssertionError(
        'ERR_PREREQUISITE_MISSING',
        `cannot check serial authority "${a.authorityId}": model "${model}" of brand "${brandId}" is not known`,
        { header: 'authority-id' },
      );
    }
    const allowed = modelAssertion.is('model') ? modelAssertion.view.serialAuthority : [];
    if (!allowed.includes(a.authorityId)) {
      throw new AssertionError(
        'ERR_AUTHORITY_NOT_ALLOWED',
        `serial with authority "${a.authorityId}" different from brand "${brandId}" is not allowed: the model's serial-authority is [${allowed.join(', ')}]`,
        { header: 'authority-id' },
      );
    }
  },
};
