import { AssertionError } from '../errors.js';
import type { HeaderMap } from '../headers.js';
import { checkDate, checkOptionalDate } from '../checks.js';

/** A key's validity window: valid from `since` (inclusive) until `until` (exclusive, open if absent). */
export interface Validity {
  readonly since: Date;
  readonly until: Date | undefined;
}

export function checkValidity(headers: HeaderMap): Validity {
  const since = checkDate(headers, 'since');
  const until = checkOptionalDate(headers, 'until');
  if (until && until.getTime() < since.getTime()) {
    throw new AssertionError('ERR_HEADER_INVALID', `"until" time cannot be before "since" time`, { header: 'until' });
  }
  return { since, until };
}

export function isValidAt(v: Validity, when: Date): boolean {
  const t = when.getTime();
  return t >= v.since.getTime() && (v.until === undefined || t < v.until.getTime());
}

export function describeValidity(v: Validity): string {
  const since = `since ${v.since.toISOString()}`;
  return v.until ? `${since} until ${v.until.toISOString()}` : since;
}
