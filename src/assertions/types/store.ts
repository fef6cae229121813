import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import { checkDate, checkNotEmptyString, checkOptionalString, checkStringList } from '../checks.js';

export interface StoreView {
  readonly store: string;
  readonly operatorId: string;
  readonly url: string;
  readonly friendlyStores: readonly string[];
  readonly location: string;
  readonly timestamp: Date;
}

declare module '../assertion.js' {
  interface ViewsByType {
    store: StoreView;
  }
}

function checkStoreUrl(value: string): string {
  if (value === '') return '';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AssertionError('ERR_HEADER_INVALID', `"url" header must be a valid URL`, { header: 'url' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AssertionError('ERR_HEADER_INVALID', `"url" header scheme must be "https" or "http"`, { header: 'url' });
  }
  if (url.hostname === '') throw new AssertionError('ERR_HEADER_INVALID', `"url" header must have a host`, { header: 'url' });
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new AssertionError('ERR_HEADER_INVALID', `"url" header must not have a query, fragment or user info`, {
      header: 'url',
    });
  }
  return value;
}

export const storeType: TypeSpec<StoreView> = {
  name: 'store',
  primaryKey: ['store'],
  check({ headers }) {
    return {
      store: checkNotEmptyString(headers, 'store'),
      operatorId: checkNotEmptyString(headers, 'operator-id'),
      url: checkStoreUrl(checkOptionalString(headers, 'url')),
      friendlyStores: checkStringList(headers, 'friendly-stores'),
      location: checkOptionalString(headers, 'location'),
      timestamp: checkDate(headers, 'timestamp'),
    };
  },
  consistency(a, db) {
    if (!db.isTrustedAccount(a.authorityId)) {
      throw new AssertionError(
        'ERR_AUTHORITY_NOT_ALLOWED',
        `store assertion "${a.view.store}" is not signed by a directly trusted authority: "${a.authorityId}"`,
        { header: 'authority-id' },
      );
    }
    if (!db.find('account', [a.view.operatorId])) {
      throw new AssertionError(
        'ERR_PREREQUISITE_MISSING',
        `store assertion "${a.view.store}" does not have a matching account assertion for the operator "${a.view.operatorId}"`,
        { header: 'operator-id' },
      );
    }
  },
};
