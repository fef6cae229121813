import { AssertionError } from '../errors.js';
import type { HeaderMap, HeaderValue } from '../headers.js';
import { VALID_ACCOUNT_ID, VALID_MODEL, checkStringList, checkStringMatches, parseIntHeader } from '../checks.js';

/**
 * A snap-declaration's `revision-authority` entry: which account may sign
 * snap-revisions of the snap under which provenances, for which revision
 * range, and (device scope) on which stores, brands and models. This is how
 * the store delegates provenance revisions to a brand (`STORE.md` §4.5).
 */
export interface RevisionAuthority {
  readonly accountId: string;
  readonly provenance: readonly string[];
  readonly minRevision: number;
  /** 0: no upper bound. */
  readonly maxRevision: number;
  readonly onStore: readonly string[];
  readonly onBrand: readonly string[];
  /** `brand/model` entries. */
  readonly onModel: readonly string[];
}

export const VALID_PROVENANCE = /^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$/;
const VALID_STORE_ID = /^[-A-Z0-9a-z_]+$/;
const VALID_BRAND_SLASH_MODEL = new RegExp(
  `^(${VALID_ACCOUNT_ID.source.replace(/^\^|\$$/g, '')})/(${VALID_MODEL.source.replace(/^\^|\$$/g, '')})$`,
);

const HEADER = 'revision-authority';
const invalid = (message: string) => new AssertionError('ERR_HEADER_INVALID', message, { header: HEADER });
const isMap = (v: HeaderValue): v is HeaderMap => typeof v !== 'string' && !Array.isArray(v);

function revisionIn(m: HeaderMap, name: string): number | undefined {
  const v = m[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`"${name}" in revision authority must be an integer`);
  const n = parseIntHeader(name, v, 'in revision authority');
  if (n < 1) throw invalid(`"${name}" in revision authority must be >=1: ${n}`);
  return n;
}

/** Parses the header as snapd's snap-declaration assembler does, with its messages. */
export function checkRevisionAuthorities(headers: HeaderMap): RevisionAuthority[] {
  const value = headers[HEADER];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid('revision-authority stanza must be a list of maps');
  if (value.length === 0) throw invalid('revision-authority stanza cannot be empty');
  return (value as readonly HeaderValue[]).map((entry) => {
    if (!isMap(entry)) throw invalid('revision-authority stanza must be a list of maps');
    const accountId = checkStringMatches(entry, 'account-id', VALID_ACCOUNT_ID, 'in revision authority');
    const provenance = checkStringList(entry, 'provenance', VALID_PROVENANCE, 'provenance in revision authority');
    if (provenance.length === 0) throw invalid('provenance in revision authority cannot be empty');
    const minRevision = revisionIn(entry, 'min-revision') ?? 1;
    const maxRevision = revisionIn(entry, 'max-revision') ?? 0;
    if (maxRevision !== 0 && maxRevision < minRevision) {
      throw invalid('optional max-revision cannot be less than min-revision in revision-authority');
    }
    const scope = (name: string, pattern: RegExp) => checkStringList(entry, name, pattern, `${name} in revision-authority`);
    return {
      accountId,
      provenance,
      minRevision,
      maxRevision,
      onStore: scope('on-store', VALID_STORE_ID),
      onBrand: scope('on-brand', VALID_ACCOUNT_ID),
      onModel: scope('on-model', VALID_BRAND_SLASH_MODEL),
    };
  });
}

/**
 * Why `ra` does not let `authorityId` sign revision `revision` under
 * `provenance`, or undefined when it does. Device scope is not checked here,
 * as in snapd's database: it applies when a device installs the snap.
 */
export function revisionAuthorityRefusal(
  ra: RevisionAuthority,
  provenance: string,
  authorityId: string,
  revision: number,
): string | undefined {
  if (!ra.provenance.includes(provenance)) return 'provenance mismatch';
  if (ra.accountId !== authorityId) return 'authority-id mismatch';
  if (revision < ra.minRevision) return `snap revision ${revision} is less than min-revision ${ra.minRevision}`;
  if (ra.maxRevision !== 0 && revision > ra.maxRevision) {
    return `snap revision ${revision} is greater than max-revision ${ra.maxRevision}`;
  }
  return undefined;
}
