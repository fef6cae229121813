import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import { checkNotEmptyString, checkStringMatches } from '../checks.js';
import type { PublicKey } from '../public-key.js';
import { VALID_ACCOUNT_KEY_NAME } from './account-key.js';
import { checkBodyPublicKey } from './key-body.js';
import { checkValidity, type Validity } from './validity.js';

/** A request to register a key for an account, signed by that key itself. */
export interface AccountKeyRequestView extends Validity {
  readonly accountId: string;
  readonly name: string;
  readonly publicKeyId: string;
  readonly publicKey: PublicKey;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'account-key-request': AccountKeyRequestView;
  }
}

export const accountKeyRequestType: TypeSpec<AccountKeyRequestView> = {
  name: 'account-key-request',
  primaryKey: ['public-key-sha3-384'],
  noAuthority: true,
  check(parts) {
    const { headers } = parts;
    const accountId = checkNotEmptyString(headers, 'account-id');
    const name = checkStringMatches(headers, 'name', VALID_ACCOUNT_KEY_NAME);
    const validity = checkValidity(headers);
    const publicKey = checkBodyPublicKey(parts, 'public-key-sha3-384');
    if (parts.signKeyId !== publicKey.id) {
      throw new AssertionError('ERR_HEADER_MISMATCH', 'the account-key-request must be signed by the key it requests', {
        header: 'sign-key-sha3-384',
      });
    }
    return { accountId, name, ...validity, publicKeyId: publicKey.id, publicKey };
  },
  signingKey: (a) => a.view.publicKey,
  consistency(a, db) {
    if (!db.find('account', [a.view.accountId])) {
      throw new AssertionError(
        'ERR_PREREQUISITE_MISSING',
        `account-key-request assertion for "${a.view.accountId}" does not have a matching account assertion`,
        { header: 'account-id' },
      );
    }
  },
};
