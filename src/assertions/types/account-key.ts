import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import { checkNotEmptyString, checkOptionalStringMatches } from '../checks.js';
import type { PublicKey } from '../public-key.js';
import { checkBodyPublicKey } from './key-body.js';
import { checkValidity, type Validity } from './validity.js';

/** Account-key names: lower case words and digits, with single dashes. */
export const VALID_ACCOUNT_KEY_NAME = /^(?:[a-z0-9]+-?)*[a-z](?:-?[a-z0-9])*$/;

export interface AccountKeyView extends Validity {
  readonly accountId: string;
  readonly name: string;
  readonly publicKeyId: string;
  readonly publicKey: PublicKey;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'account-key': AccountKeyView;
  }
}

export const accountKeyType: TypeSpec<AccountKeyView> = {
  name: 'account-key',
  primaryKey: ['public-key-sha3-384'],
  check(parts) {
    const { headers } = parts;
    const accountId = checkNotEmptyString(headers, 'account-id');
    const name = checkOptionalStringMatches(headers, 'name', VALID_ACCOUNT_KEY_NAME);
    const validity = checkValidity(headers);
    const publicKey = checkBodyPublicKey(parts, 'public-key-sha3-384');
    return { accountId, name, ...validity, publicKeyId: publicKey.id, publicKey };
  },
  consistency(a, db) {
    const { accountId, name, publicKeyId } = a.view;
    if (!db.isTrustedAccount(a.authorityId)) {
      throw new AssertionError(
        'ERR_AUTHORITY_NOT_ALLOWED',
        `account-key assertion for "${accountId}" is not signed by a directly trusted authority: "${a.authorityId}"`,
        { header: 'authority-id' },
      );
    }
    if (!db.find('account', [accountId])) {
      throw new AssertionError(
        'ERR_PREREQUISITE_MISSING',
        `account-key assertion for "${accountId}" does not have a matching account assertion`,
        { header: 'account-id' },
      );
    }
    if (name) {
      for (const other of db.findMany('account-key', { 'account-id': accountId, name })) {
        if (other.headerString('public-key-sha3-384') !== publicKeyId) {
          throw new AssertionError(
            'ERR_HEADER_MISMATCH',
            `account-key assertion for "${accountId}" with id "${publicKeyId}" has the same name "${name}" as the existing key "${other.headerString('public-key-sha3-384')}"`,
            { header: 'name' },
          );
        }
      }
    }
  },
};
