import { AssertionError } from './errors.js';
import type { HeaderMap, HeaderValue } from './headers.js';
import { parseRfc3339 } from './time.js';

/**
 * Header checks shared by the assertion types. Each names the header (and,
 * for nested maps, what it belongs to) in its message and in `error.header`.
 */

const q = (s: string): string => JSON.stringify(s);
const label = (name: string, what: string | undefined): string => (what ? `${q(name)} ${what}` : `${q(name)} header`);

function fail(code: AssertionError['code'], name: string, message: string): AssertionError {
  return new AssertionError(code, message, { header: name });
}

export function checkExistsString(m: HeaderMap, name: string, what?: string): string {
  const v = m[name];
  if (v === undefined) throw fail('ERR_HEADER_MISSING', name, `${label(name, what)} is mandatory`);
  if (typeof v !== 'string') throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} must be a string`);
  return v;
}

export function checkNotEmptyString(m: HeaderMap, name: string, what?: string): string {
  const v = checkExistsString(m, name, what);
  if (v.length === 0) throw fail('ERR_HEADER_MISSING', name, `${label(name, what)} should not be empty`);
  return v;
}

export function checkOptionalString(m: HeaderMap, name: string, what?: string): string {
  const v = m[name];
  if (v === undefined) return '';
  if (typeof v !== 'string') throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} must be a string`);
  return v;
}

export function checkStringMatches(m: HeaderMap, name: string, pattern: RegExp, what?: string): string {
  const v = checkNotEmptyString(m, name, what);
  if (!pattern.test(v)) throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} contains invalid characters: ${q(v)}`);
  return v;
}

export function checkOptionalStringMatches(m: HeaderMap, name: string, pattern: RegExp, what?: string): string {
  if (m[name] === undefined) return '';
  return checkStringMatches(m, name, pattern, what);
}

export function checkOptionalBool(m: HeaderMap, name: string, what?: string): boolean {
  const v = m[name];
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} must be 'true' or 'false'`);
  return v === 'true';
}

const DECIMAL = /^-?\d+$/;

/** Integers as snapd reads them: decimal, no leading zeros, within int64 (we keep to safe integers). */
export function parseIntHeader(name: string, value: string, what?: string): number {
  if (!DECIMAL.test(value)) throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} is not an integer: ${value}`);
  const digits = value.startsWith('-') ? value.slice(1) : value;
  if (digits.length > 1 && digits.startsWith('0')) {
    throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} has invalid prefix zeros: ${value}`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} is out of range: ${value}`);
  return n;
}

export function checkInt(m: HeaderMap, name: string, what?: string): number {
  return parseIntHeader(name, checkNotEmptyString(m, name, what), what);
}

export function checkIntWithDefault(m: HeaderMap, name: string, dflt: number, what?: string): number {
  const v = m[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string') throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} must be an integer`);
  return parseIntHeader(name, v, what);
}

export function checkUint(m: HeaderMap, name: string, what?: string): number {
  const n = checkInt(m, name, what);
  if (n < 0) throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} is not an unsigned integer: ${n}`);
  return n;
}

export function checkDate(m: HeaderMap, name: string, what?: string): Date {
  const v = checkNotEmptyString(m, name, what);
  const d = parseRfc3339(v);
  if (!d) throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} is not a RFC3339 date: ${q(v)}`);
  return d;
}

export function checkOptionalDate(m: HeaderMap, name: string, what?: string): Date | undefined {
  if (m[name] === undefined) return undefined;
  return checkDate(m, name, what);
}

export function checkStringList(m: HeaderMap, name: string, pattern?: RegExp, what?: string): string[] {
  const v = m[name];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} must be a list of strings`);
  return (v as readonly HeaderValue[]).map((item) => {
    if (typeof item !== 'string') throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} must be a list of strings`);
    if (pattern && !pattern.test(item)) {
      throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} contains an invalid element: ${q(item)}`);
    }
    return item;
  });
}

export function checkOptionalMap(m: HeaderMap, name: string, what?: string): HeaderMap | undefined {
  const v = m[name];
  if (v === undefined) return undefined;
  if (typeof v === 'string' || Array.isArray(v)) throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} must be a map`);
  return v as HeaderMap;
}

/** A base64url (unpadded) digest of the given size, such as a SHA3-384 key id. */
export function checkDigest(m: HeaderMap, name: string, bytes: number, what?: string): string {
  const v = checkNotEmptyString(m, name, what);
  // Unpadded base64url of `bytes` bytes has exactly this many characters,
  // and when `bytes` is a multiple of 3 every character string of the
  // alphabet of that length is a canonical encoding.
  const length = Math.ceil((bytes * 4) / 3);
  if (!/^[A-Za-z0-9_-]+$/.test(v) || (bytes % 3 !== 0 && Buffer.from(v, 'base64url').toString('base64url') !== v)) {
    throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} cannot be decoded as unpadded base64url`);
  }
  if (v.length !== length) {
    throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} does not have the expected bit length: ${Math.floor((v.length * 6) / 8) * 8}`);
  }
  return v;
}

export function oneOf(name: string, value: string, allowed: readonly string[], what?: string): string {
  if (!allowed.includes(value)) {
    throw fail('ERR_HEADER_INVALID', name, `${label(name, what)} must be ${allowed.join('|')}, not ${q(value)}`);
  }
  return value;
}

export function forbid(m: HeaderMap, name: string, why: string): void {
  if (m[name] !== undefined) throw fail('ERR_HEADER_FORBIDDEN', name, `cannot specify ${q(name)} ${why}`);
}

/** Account ids: snapd's 32-character store ids or 2–28 lower-case characters and dashes. */
export const VALID_ACCOUNT_ID = /^(?:[a-z0-9A-Z]{32}|[-a-z0-9]{2,28})$/;
/** Model names (snapd limits them to lower case separately). */
export const VALID_MODEL = /^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$/;
export const VALID_SNAP_ID = /^[a-z0-9A-Z]{32}$/;
/** Snap names: 1–40 characters, lower case letters, digits and inner dashes, at least one letter. */
export const VALID_SNAP_NAME = /^(?=.*[a-z])[a-z0-9](?:-?[a-z0-9])*$/;

export function validSnapName(name: string): boolean {
  return name.length <= 40 && VALID_SNAP_NAME.test(name);
}
