import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import type { HeaderMap, HeaderValue } from '../headers.js';
import { checkDate, checkDigest, checkExistsString, checkNotEmptyString, checkUint, checkInt, checkStringMatches, oneOf } from '../checks.js';
import { VALID_PROVENANCE, revisionAuthorityRefusal } from './revision-authority.js';

/** The store's statement that a snap file (by its SHA3-384) is a given revision of a snap. */
export interface SnapRevisionView {
  readonly snapSha3_384: string;
  readonly provenance: string;
  readonly snapId: string;
  readonly snapSize: number;
  readonly snapRevision: number;
  readonly developerId: string;
  readonly integrity: readonly IntegrityData[];
  readonly timestamp: Date;
}

/** One `integrity` entry: a dm-verity tree for the snap. */
export interface IntegrityData {
  readonly type: string;
  readonly version: number;
  readonly hashAlgorithm: string;
  readonly dataBlockSize: number;
  readonly hashBlockSize: number;
  readonly digest: string;
  readonly salt: string;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'snap-revision': SnapRevisionView;
  }
}

export const DEFAULT_PROVENANCE = 'global-upload';

const invalidIntegrity = (message: string) => new AssertionError('ERR_HEADER_INVALID', message, { header: 'integrity' });

function checkHexDigest(m: HeaderMap, name: string, what: string): string {
  const v = checkNotEmptyString(m, name, what);
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(v)) throw invalidIntegrity(`cannot decode "${name}" ${what}: not hex`);
  if (v.length !== 64) throw invalidIntegrity(`"${name}" ${what} does not have the expected length for the hash`);
  return v;
}

/** snapd's `integrity` header: a list of dm-verity descriptions (version 1, sha256). */
function checkIntegrity(headers: HeaderMap): IntegrityData[] {
  const value = headers['integrity'];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidIntegrity('"integrity" header must contain a list of integrity data');
  return (value as readonly HeaderValue[]).map((item, i) => {
    if (typeof item === 'string' || Array.isArray(item)) {
      throw invalidIntegrity('"integrity" header must contain a list of integrity data');
    }
    const m = item as HeaderMap;
    const type = oneOf('type', checkExistsString(m, 'type', `of integrity data [${i}]`), ['dm-verity'], `of integrity data [${i}]`);
    const what = `of integrity data [${i}] of type "${type}"`;
    const version = checkUint(m, 'version', what);
    if (version !== 1) throw invalidIntegrity(`version of integrity data [${i}] of type "${type}" must be one of [1]`);
    const hashAlgorithm = checkExistsString(m, 'hash-algorithm', what);
    if (hashAlgorithm !== 'sha256') {
      throw invalidIntegrity(`hash algorithm of integrity data [${i}] of type "${type}" must be one of [sha256]`);
    }
    const full = `${what} (${hashAlgorithm})`;
    return {
      type,
      version,
      hashAlgorithm,
      dataBlockSize: checkUint(m, 'data-block-size', full),
      hashBlockSize: checkUint(m, 'hash-block-size', full),
      digest: checkHexDigest(m, 'digest', full),
      salt: checkHexDigest(m, 'salt', full),
    };
  });
}

export const snapRevisionType: TypeSpec<SnapRevisionView> = {
  name: 'snap-revision',
  primaryKey: ['snap-sha3-384', 'provenance'],
  primaryKeyDefaults: { provenance: DEFAULT_PROVENANCE },
  check({ headers }) {
    const snapSha3_384 = checkDigest(headers, 'snap-sha3-384', 48);
    const provenance =
      headers['provenance'] === undefined ? DEFAULT_PROVENANCE : checkStringMatches(headers, 'provenance', VALID_PROVENANCE);
    const snapId = checkNotEmptyString(headers, 'snap-id');
    const snapSize = checkUint(headers, 'snap-size');
    const snapRevision = checkInt(headers, 'snap-revision');
    if (snapRevision < 1) {
      throw new AssertionError('ERR_HEADER_INVALID', `"snap-revision" header must be >=1: ${snapRevision}`, {
        header: 'snap-revision',
      });
    }
    const developerId = checkNotEmptyString(headers, 'developer-id');
    const timestamp = checkDate(headers, 'timestamp');
    return { snapSha3_384, provenance, snapId, snapSize, snapRevision, developerId, integrity: checkIntegrity(headers), timestamp };
  },
  /**
   * snapd's rules: a global-upload revision is signed by the store (a
   * directly trusted account) and never delegated; any other provenance
   * must be delegated to the signer by the snap's declaration.
   */
  consistency(a, db) {
    const { snapId, provenance, developerId, snapRevision } = a.view;
    const global = provenance === DEFAULT_PROVENANCE;
    if (global && !db.isTrustedAccount(a.authorityId)) {
      throw new AssertionError(
        'ERR_AUTHORITY_NOT_ALLOWED',
        `snap-revision assertion for snap id "${snapId}" is not signed by a store: "${a.authorityId}"`,
        { header: 'authority-id' },
      );
    }
    if (!db.find('account', [developerId])) {
      throw new AssertionError(
        'ERR_PREREQUISITE_MISSING',
        `snap-revision assertion for snap id "${snapId}" does not have a matching account assertion for the developer "${developerId}"`,
        { header: 'developer-id' },
      );
    }
    const declaration = db.find('snap-declaration', ['16', snapId]);
    if (!declaration?.is('snap-declaration')) {
      throw new AssertionError(
        'ERR_PREREQUISITE_MISSING',
        `snap-revision assertion for snap id "${snapId}" does not have a matching snap-declaration assertion`,
        { header: 'snap-id' },
      );
    }
    if (global) return;
    const delegated = declaration.view.revisionAuthorities.some(
      (ra) => revisionAuthorityRefusal(ra, provenance, a.authorityId, snapRevision) === undefined,
    );
    if (!delegated) {
      throw new AssertionError(
        'ERR_AUTHORITY_NOT_ALLOWED',
        `snap-revision assertion with provenance "${provenance}" for snap id "${snapId}" is not signed by an authorized authority: "${a.authorityId}"`,
        { header: 'authority-id' },
      );
    }
  },
};
