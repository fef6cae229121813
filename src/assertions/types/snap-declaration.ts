import type { TypeSpec } from '../assertion.js';
import type { HeaderMap } from '../headers.js';
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
      timestamp: checkDate(headers, 'timestamp'),
    };
  },
};
