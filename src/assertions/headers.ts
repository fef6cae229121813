import { AssertionError } from './errors.js';

/** A header value: snapd's headers hold only strings, lists and maps of them. */
export type HeaderValue = string | readonly HeaderValue[] | HeaderMap;
export interface HeaderMap {
  readonly [key: string]: HeaderValue;
}
export type Headers = HeaderMap;

/** Header names and map keys: lower case, digits, single inner dashes. */
export const HEADER_NAME = /^[a-z](?:-?[a-z0-9])*$/;

const NESTING = '  ';
const TEXT_NESTING = '    ';
const LIST_MARK = '-';

const syntax = (message: string, header?: string): AssertionError =>
  new AssertionError('ERR_ASSERTION_SYNTAX', message, header === undefined ? {} : { header });

const quote = (s: string): string => JSON.stringify(s);

/** Indentation strings by width, built once: parsing asks for the same few again and again. */
const SPACES = Array.from({ length: 64 }, (_, i) => ' '.repeat(i));
const spaces = (n: number): string => SPACES[n] ?? ' '.repeat(n);

/**
 * Parses the header block of an assertion (without the final blank line).
 * The grammar is snapd's: `name: value`, or a bare `name:` introducing a list,
 * a map or multi-line text by the indentation of the following line.
 */
export function parseHeaders(head: string): Headers {
  const lines = head.split('\n');
  const headers: Record<string, HeaderValue> = {};
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon === -1) {
      throw syntax(`cannot parse header line ${quote(line)}: missing ":" separator`);
    }
    const name = line.slice(0, colon);
    if (!HEADER_NAME.test(name)) {
      throw syntax(`invalid header name ${quote(name)}`, name);
    }
    const [value, next] = parseEntry(lines, i, colon + 1, 0, name);
    if (Object.hasOwn(headers, name)) {
      throw syntax(`repeated header ${quote(name)}`, name);
    }
    headers[name] = value;
    i = next;
  }
  return headers;
}

/**
 * Parses the value introduced at `lines[first]`, whose first `consumed`
 * characters were the name (or list mark) and the colon. `base` is the
 * indentation of the introducing line.
 */
function parseEntry(
  lines: readonly string[],
  first: number,
  consumed: number,
  base: number,
  path: string,
): [HeaderValue, number] {
  const line = lines[first] as string;
  if (consumed === line.length) {
    const next = lines[first + 1];
    const nested = spaces(base) + NESTING;
    if (next !== undefined && next.startsWith(nested)) {
      const rest = next.slice(nested.length);
      if (rest.startsWith(LIST_MARK)) return parseList(lines, first + 1, base, path);
      if (rest.length > 0 && rest[0] !== ' ') return parseMap(lines, first + 1, base, path);
    }
    return parseText(lines, first + 1, base, path);
  }
  if (line[consumed] !== ' ') {
    throw syntax(
      `cannot parse header ${quote(path)}: expected a space or a line break after ":" in ${quote(line)}`,
      path,
    );
  }
  return [line.slice(consumed + 1), first + 1];
}

function parseText(lines: readonly string[], first: number, base: number, path: string): [string, number] {
  const prefix = spaces(base) + TEXT_NESTING;
  let end = first;
  while (end < lines.length && (lines[end] as string).startsWith(prefix)) end++;
  if (end === first) {
    const found = first < lines.length ? quote(lines[first] as string) : 'the end of the headers';
    throw syntax(
      `cannot parse header ${quote(path)}: expected a list, a map or text indented by ${prefix.length} spaces, found ${found}`,
      path,
    );
  }
  const text = lines
    .slice(first, end)
    .map((l) => l.slice(prefix.length))
    .join('\n');
  return [text, end];
}

function parseList(lines: readonly string[], first: number, base: number, path: string): [HeaderValue[], number] {
  const prefix = spaces(base) + NESTING + LIST_MARK;
  const list: HeaderValue[] = [];
  let i = first;
  while (i < lines.length && (lines[i] as string).startsWith(prefix)) {
    const [value, next] = parseEntry(lines, i, prefix.length, base + NESTING.length, `${path}[${list.length}]`);
    list.push(value);
    i = next;
  }
  return [list, i];
}

function parseMap(lines: readonly string[], first: number, base: number, path: string): [HeaderMap, number] {
  const prefix = spaces(base) + NESTING;
  const map: Record<string, HeaderValue> = {};
  let i = first;
  while (i < lines.length && (lines[i] as string).startsWith(prefix)) {
    const entry = (lines[i] as string).slice(prefix.length);
    const colon = entry.indexOf(':');
    if (colon === -1) {
      throw syntax(`cannot parse header ${quote(path)}: map entry ${quote(entry)} has no ":" separator`, path);
    }
    const key = entry.slice(0, colon);
    if (!HEADER_NAME.test(key)) {
      throw syntax(`cannot parse header ${quote(path)}: invalid map key ${quote(key)}`, path);
    }
    const [value, next] = parseEntry(lines, i, prefix.length + colon + 1, prefix.length, `${path}.${key}`);
    if (Object.hasOwn(map, key)) {
      throw syntax(`cannot parse header ${quote(path)}: repeated map key ${quote(key)}`, path);
    }
    map[key] = value;
    i = next;
  }
  return [map, i];
}

/** True for values that the encoder omits: empty lists and maps. */
export function isEmptyValue(v: HeaderValue): boolean {
  if (typeof v === 'string') return false;
  if (Array.isArray(v)) return v.length === 0;
  return Object.keys(v).length === 0;
}

/**
 * Appends one header (or nested entry) in canonical form. `intro` is what
 * precedes the value on its first line (`name:`, `  -`, `    key:`), `base`
 * the indentation of that line. Empty lists and maps are omitted entirely.
 */
export function appendEntry(out: string[], intro: string, value: HeaderValue, base: number): void {
  if (typeof value === 'string') {
    if (!value.includes('\n')) {
      out.push(`${intro} ${value}`);
      return;
    }
    out.push(intro);
    const prefix = spaces(base) + TEXT_NESTING;
    for (const line of value.split('\n')) out.push(prefix + line);
    return;
  }
  if (isEmptyValue(value)) return;
  out.push(intro);
  if (Array.isArray(value)) {
    const mark = spaces(base) + NESTING + LIST_MARK;
    for (const item of value as readonly HeaderValue[]) appendEntry(out, mark, item, base + NESTING.length);
    return;
  }
  const map = value as HeaderMap;
  const prefix = spaces(base) + NESTING;
  for (const key of Object.keys(map).sort()) {
    appendEntry(out, `${prefix}${key}:`, map[key] as HeaderValue, prefix.length);
  }
}

/**
 * Checks that a value can be written and read back unchanged: names and keys
 * follow the grammar, and text holds no character sequence the grammar cannot
 * carry. Used before signing, so a signed assertion always decodes.
 */
export function checkEncodable(name: string, value: HeaderValue): void {
  if (typeof value === 'string') {
    if (value.includes('\r')) {
      throw new AssertionError('ERR_HEADER_INVALID', `header ${quote(name)} cannot contain a carriage return`, {
        header: name,
      });
    }
    return;
  }
  if (Array.isArray(value)) {
    (value as readonly HeaderValue[]).forEach((item, i) => checkEncodable(`${name}[${i}]`, item));
    if (value.length > 0 && value.every((v) => isEmptyValue(v))) {
      throw new AssertionError('ERR_HEADER_INVALID', `header ${quote(name)} is a list of only empty values`, {
        header: name,
      });
    }
    return;
  }
  if (typeof value !== 'object' || value === null) {
    throw new AssertionError('ERR_HEADER_INVALID', `header ${quote(name)} must be a string, a list or a map`, {
      header: name,
    });
  }
  const entries = Object.entries(value as HeaderMap);
  for (const [key, v] of entries) {
    if (!HEADER_NAME.test(key)) {
      throw new AssertionError('ERR_HEADER_INVALID', `header ${quote(name)} has an invalid map key ${quote(key)}`, {
        header: name,
      });
    }
    checkEncodable(`${name}.${key}`, v);
  }
  if (entries.length > 0 && entries.every(([, v]) => isEmptyValue(v))) {
    throw new AssertionError('ERR_HEADER_INVALID', `header ${quote(name)} is a map of only empty values`, {
      header: name,
    });
  }
}
