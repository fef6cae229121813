import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import type { HeaderMap } from '../headers.js';
import { checkRevisionAuthorities, type RevisionAuthority } from './revision-authority.js';
import { checkDate, checkExistsString, checkNotEmptyString, checkOptionalMap, checkStringList } from '../checks.js';

/**
 * A snap's name, publisher and interface policy in the store. The policy
 * maps (`plugs`, `slots`) are kept as headers: the vault does not evaluate them.
 */
export interface SnapDeclarationView {
  readonly series: string;
  readonly snapId: string;
  readonly snapName: string;
  readonly publisherId: string;
  readonly refreshControl: readonly string[];
  readonly plugs: HeaderMap | undefined;
  readonly slots: HeaderMap | undefined;
  readonly autoAliases: readonly string[];
  /** Who may sign snap-revisions of this snap under a provenance other than `global-upload`. */
  readonly revisionAuthorities: readonly RevisionAuthority[];
  readonly timestamp: Date;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'snap-declaration': SnapDeclarationView;
  }
}

const VALID_ALIAS = /^[a-zA-Z0-9][-_.a-zA-Z0-9]*$/;

export const snapDeclarationType: TypeSpec<SnapDeclarationView> = {
  name: 'snap-declaration',
  primaryKey: ['series', 'snap-id'],
  check({ headers }) {
    return {
      series: checkNotEmptyString(headers, 'series'),
      snapId: checkNotEmptyString(headers, 'snap-id'),
      snapName: checkExistsString(headers, 'snap-name'),
      publisherId: checkNotEmptyString(headers, 'publisher-id'),
      refreshControl: checkStringList(headers, 'refresh-control'),
      plugs: checkOptionalMap(headers, 'plugs'),
      slots: checkOptionalMap(headers, 'slots'),
      autoAliases: checkStringList(headers, 'auto-aliases', VALID_ALIAS),
      revisionAuthorities: checkRevisionAuthorities(headers),
      timestamp: checkDate(headers, 'timestamp'),
    };
  },
  consistency(a, db) {
    const { snapName, snapId, publisherId } = a.view;
    if (!db.isTrustedAccount(a.authorityId)) {
      throw new AssertionError(
        'ERR_AUTHORITY_NOT_ALLOWED',
        `snap-declaration assertion for "${snapName}" (id "${snapId}") is not signed by a directly trusted authority: "${a.authorityId}"`,
        { header: 'authority-id' },
      );
    }
    if (!db.find('account', [publisherId])) {
      throw new AssertionError(
        'ERR_PREREQUISITE_MISSING',
        `snap-declaration assertion for "${snapName}" (id "${snapId}") does not have a matching account assertion for the publisher "${publisherId}"`,
        { header: 'publisher-id' },
      );
    }
  },
};
