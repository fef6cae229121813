import type { TypeSpec } from '../assertion.js';
import { checkDate, checkNotEmptyString } from '../checks.js';
import type { PublicKey } from '../public-key.js';
import { checkModelName } from './model.js';

/** A device asking the store for a session, signed by the device key of its serial. */
export interface DeviceSessionRequestView {
  readonly brandId: string;
  readonly model: string;
  readonly serial: string;
  readonly nonce: string;
  readonly timestamp: Date;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'device-session-request': DeviceSessionRequestView;
  }
}

export const deviceSessionRequestType: TypeSpec<DeviceSessionRequestView> = {
  name: 'device-session-request',
  primaryKey: ['brand-id', 'model', 'serial'],
  noAuthority: true,
  check({ headers }) {
    return {
      brandId: checkNotEmptyString(headers, 'brand-id'),
      model: checkModelName(headers),
      serial: checkNotEmptyString(headers, 'serial'),
      nonce: checkNotEmptyString(headers, 'nonce'),
      timestamp: checkDate(headers, 'timestamp'),
    };
  },
  signingKey(a, db): PublicKey | undefined {
    const serial = db.find('serial', [a.view.brandId, a.view.model, a.view.serial]);
    return serial?.is('serial') ? serial.view.deviceKey : undefined;
  },
};
