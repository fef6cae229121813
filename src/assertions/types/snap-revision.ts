import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import { checkDate, checkDigest, checkNotEmptyString, checkOptionalMap, checkUint, checkInt, checkStringMatches } from '../checks.js';

/** The store's statement that a snap file (by its SHA3-384) is a given revision of a snap. */
export interface SnapRevisionView {
  readonly snapSha3_384: string;
  readonly provenance: string;
  readonly snapId: string;
  readonly snapSize: number;
  readonly snapRevision: number;
  readonly developerId: string;
  readonly timestamp: Date;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'snap-revision': SnapRevisionView;
  }
}

export const DEFAULT_PROVENANCE = 'global-upload';
const VALID_PROVENANCE = /^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$/;

export const snapRevisionType: TypeSpec<SnapRevisionView> = {
  name: 'snap-revision',
  primaryKey: ['snap-sha3-384', 'provenance'],
  primaryKeyDefaults: { provenance: DEFAULT_PROVENANCE },
  check({ headers }) {
    const snapRevision = checkInt(headers, 'snap-revision');
    if (snapRevision < 1) {
      throw new AssertionError('ERR_HEADER_INVALID', `"snap-revision" header must be >=1: ${snapRevision}`, {
        header: 'snap-revision',
      });
    }
    const integrity = checkOptionalMap(headers, 'integrity');
    if (integrity) {
      checkDigest(integrity, 'sha3-384', 48, 'of integrity header');
      checkUint(integrity, 'size', 'of integrity header');
    }
    return {
      snapSha3_384: checkDigest(headers, 'snap-sha3-384', 48),
      provenance:
        headers['provenance'] === undefined ? DEFAULT_PROVENANCE : checkStringMatches(headers, 'provenance', VALID_PROVENANCE),
      snapId: checkNotEmptyString(headers, 'snap-id'),
      snapSize: checkUint(headers, 'snap-size'),
      snapRevision,
      developerId: checkNotEmptyString(headers, 'developer-id'),
      timestamp: checkDate(headers, 'timestamp'),
    };
  },
};
