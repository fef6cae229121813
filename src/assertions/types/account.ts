import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import { checkDate, checkNotEmptyString, checkOptionalString } from '../checks.js';

export interface AccountView {
  readonly accountId: string;
  readonly displayName: string;
  /** `verified`, `starred`, `unproven`…; snapd reads the old `certified` as `verified`. */
  readonly validation: string;
  readonly username: string;
  readonly timestamp: Date;
}

declare module '../assertion.js' {
  interface ViewsByType {
    account: AccountView;
  }
}

export const accountType: TypeSpec<AccountView> = {
  name: 'account',
  primaryKey: ['account-id'],
  check({ headers }) {
    const validation = checkNotEmptyString(headers, 'validation');
    return {
      accountId: checkNotEmptyString(headers, 'account-id'),
      displayName: checkNotEmptyString(headers, 'display-name'),
      validation: validation === 'certified' ? 'verified' : validation,
      username: checkOptionalString(headers, 'username'),
      timestamp: checkDate(headers, 'timestamp'),
    };
  },
  consistency(a, db) {
    if (!db.isTrustedAccount(a.authorityId)) {
      throw new AssertionError(
        'ERR_AUTHORITY_NOT_ALLOWED',
        `account assertion for "${a.view.accountId}" is not signed by a directly trusted authority: "${a.authorityId}"`,
        { header: 'authority-id' },
      );
    }
  },
};
