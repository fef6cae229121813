import { isUtf8 } from 'node:buffer';
import { Assertion, NLNL, type AssertionParts, type TypeSpec } from './assertion.js';
import { checkDigest, checkIntWithDefault, checkNotEmptyString } from './checks.js';
import { AssertionError } from './errors.js';
import { appendEntry, checkEncodable, parseHeaders, type HeaderValue, type Headers } from './headers.js';
import { decodeSignature, signContent, type Signer } from './signature.js';
import { isKnownType, typeSpec } from './type-table.js';

/** snapd's limits (asserts.go): larger input is refused before it is parsed. */
export const MAX_HEADERS_SIZE = 128 * 1024;
export const MAX_BODY_SIZE = 2 * 1024 * 1024;
export const MAX_SIGNATURE_SIZE = 128 * 1024;

const NL = 0x0a;

function decodeUtf8(bytes: Buffer, what: string): string {
  if (!isUtf8(bytes)) throw new AssertionError('ERR_ASSERTION_ENCODING', `${what} is not valid UTF-8`);
  return bytes.toString('utf8');
}

const syntax = (message: string) => new AssertionError('ERR_ASSERTION_SYNTAX', message);
const tooLarge = (message: string) => new AssertionError('ERR_ASSERTION_TOO_LARGE', message);

/** Headers that only the codec writes and checks; types see them through `AssertionParts`. */
const checkIteration = (headers: Headers, name: 'format' | 'revision'): number => {
  const n = checkIntWithDefault(headers, name, 0);
  if (n < 0) throw new AssertionError('ERR_HEADER_INVALID', `"${name}" header must be >=0: ${n}`, { header: name });
  return n;
};

interface Checked {
  readonly spec: TypeSpec<unknown>;
  readonly parts: AssertionParts;
  readonly view: unknown;
}

/**
 * Runs the checks common to all types and then the type's own: the single
 * place every decoded or signed assertion passes through.
 */
function check(headers: Headers, body: Buffer | undefined): Checked {
  const bodyLength = checkIntWithDefault(headers, 'body-length', 0);
  if (bodyLength !== (body?.length ?? 0)) {
    throw new AssertionError(
      'ERR_BODY_LENGTH_MISMATCH',
      `assertion body length and declared "body-length" do not match: ${body?.length ?? 0} != ${bodyLength}`,
      { header: 'body-length' },
    );
  }
  if (body && !isUtf8(body)) throw new AssertionError('ERR_ASSERTION_ENCODING', 'assertion body is not valid UTF-8');
  const signKeyId = checkDigest(headers, 'sign-key-sha3-384', 48);
  const type = checkNotEmptyString(headers, 'type');
  const spec = typeSpec(type);
  if (spec.noAuthority) {
    if (headers['authority-id'] !== undefined) {
      throw new AssertionError('ERR_HEADER_FORBIDDEN', `"${type}" assertion cannot have authority-id set`, {
        header: 'authority-id',
      });
    }
  } else if (isKnownType(type) || headers['authority-id'] !== undefined) {
    checkNotEmptyString(headers, 'authority-id');
  }
  const format = checkIteration(headers, 'format');
  const revision = checkIteration(headers, 'revision');
  for (const key of spec.primaryKey) {
    if (headers[key] === undefined && spec.primaryKeyDefaults?.[key] !== undefined) continue;
    const v = checkNotEmptyString(headers, key);
    if (v.includes('/')) {
      throw new AssertionError('ERR_HEADER_INVALID', `"${key}" primary key header cannot contain "/"`, { header: key });
    }
  }
  const parts: AssertionParts = { type, headers, body, format, revision, signKeyId };
  try {
    return { spec, parts, view: spec.check(parts) };
  } catch (e) {
    if (e instanceof AssertionError) throw e.withContext(`assertion ${type}`);
    throw e;
  }
}

function build(checked: Checked, content: Buffer, signature: Buffer): Assertion {
  if (signature.length === 0) throw syntax('assertion has an empty signature');
  const packet = decodeSignature(signature);
  return new Assertion(checked.spec, checked.parts, checked.view, content, signature, packet);
}

function assemble(headers: Headers, body: Buffer | undefined, content: Buffer, signature: Buffer): Assertion {
  return build(check(headers, body), content, signature);
}

function splitHeadersBody(content: Buffer): { head: Buffer; body: Buffer | undefined } {
  const split = content.indexOf(NLNL);
  if (split === -1) return { head: content, body: undefined };
  const body = content.subarray(split + 2);
  return { head: content.subarray(0, split), body: body.length === 0 ? undefined : body };
}

function parseHead(head: Buffer): Headers {
  if (head.length > MAX_HEADERS_SIZE) throw tooLarge(`assertion headers exceed the maximum size of ${MAX_HEADERS_SIZE} bytes`);
  return parseHeaders(decodeUtf8(head, 'assertion headers'));
}

/**
 * Decodes exactly one assertion: content and signature are split at the last
 * blank line, headers and body at the first (snapd's `asserts.Decode`).
 */
export function decodeAssertion(data: Uint8Array): Assertion {
  // One private copy, so the caller may reuse its buffer; the parts are views of it.
  const bytes = Buffer.from(data);
  if (bytes.length > MAX_HEADERS_SIZE + MAX_BODY_SIZE + MAX_SIGNATURE_SIZE + 4) {
    throw tooLarge('assertion exceeds the maximum size');
  }
  const split = bytes.lastIndexOf(NLNL);
  if (split === -1) throw syntax('assertion content/signature separator not found');
  const content = bytes.subarray(0, split);
  const signature = bytes.subarray(split + 2);
  const { head, body } = splitHeadersBody(content);
  if (head.length > MAX_HEADERS_SIZE) throw tooLarge(`assertion headers exceed the maximum size of ${MAX_HEADERS_SIZE} bytes`);
  if (body && body.length > MAX_BODY_SIZE) throw tooLarge(`assertion body exceeds the maximum size of ${MAX_BODY_SIZE} bytes`);
  if (signature.length > MAX_SIGNATURE_SIZE) throw tooLarge('assertion signature exceeds the maximum size');
  return assemble(parseHead(head), body, content, signature);
}

/**
 * Reads assertions one after another as snapd's stream decoder does: headers
 * up to a blank line, exactly `body-length` bytes of body, a blank line, then
 * the signature up to the next blank line or the end of input.
 */
export function* decodeStreamIter(data: Uint8Array): Generator<Assertion> {
  // One private copy, so the caller may reuse its buffer; the parts are views of it.
  const bytes = Buffer.from(data);
  let pos = 0;
  while (pos < bytes.length) {
    const headEnd = bytes.indexOf(NLNL, pos);
    if (headEnd === -1) {
      if (bytes.length - pos > MAX_HEADERS_SIZE) throw tooLarge('assertion headers exceed the maximum size');
      throw syntax('unexpected end of input while reading assertion headers');
    }
    if (headEnd - pos > MAX_HEADERS_SIZE) throw tooLarge(`assertion headers exceed the maximum size of ${MAX_HEADERS_SIZE} bytes`);
    const headers = parseHeaders(decodeUtf8(bytes.subarray(pos, headEnd), 'assertion headers'));
    const length = checkIntWithDefault(headers, 'body-length', 0);
    if (length < 0) throw new AssertionError('ERR_HEADER_INVALID', `"body-length" header must be >=0: ${length}`, { header: 'body-length' });
    if (length > MAX_BODY_SIZE) throw tooLarge(`assertion body length ${length} exceeds the maximum body size`);
    let cursor = headEnd + 2;
    let content: Buffer;
    let body: Buffer | undefined;
    if (length > 0) {
      if (cursor + length > bytes.length) throw syntax('unexpected end of input while reading the assertion body');
      body = bytes.subarray(cursor, cursor + length);
      content = bytes.subarray(pos, cursor + length);
      cursor += length;
      if (bytes[cursor] !== NL || bytes[cursor + 1] !== NL) throw syntax('missing content/signature separator');
      cursor += 2;
    } else {
      content = bytes.subarray(pos, headEnd);
    }
    const sigEnd = bytes.indexOf(NLNL, cursor);
    // The signature keeps its own final line break; the blank line after it separates assertions.
    const end = sigEnd === -1 ? bytes.length : sigEnd + 1;
    if (end - cursor > MAX_SIGNATURE_SIZE) throw tooLarge('assertion signature exceeds the maximum size');
    const signature = bytes.subarray(cursor, end);
    pos = sigEnd === -1 ? bytes.length : sigEnd + 2;
    yield assemble(headers, body, content, signature);
  }
}

export function decodeStream(data: Uint8Array): Assertion[] {
  return [...decodeStreamIter(data)];
}

/** Encodes assertions as a stream: each in full, one blank line between them. */
export function encodeStream(assertions: readonly Assertion[]): Buffer {
  const parts: Buffer[] = [];
  assertions.forEach((a, i) => {
    if (i > 0) {
      const prev = assertions[i - 1] as Assertion;
      parts.push(prev.signature[prev.signature.length - 1] === NL ? Buffer.from('\n') : NLNL);
    }
    parts.push(a.encode());
  });
  return Buffer.concat(parts);
}

/** Headers the codec places itself; everything else is sorted after the primary key. */
const PLACED = new Set(['type', 'format', 'authority-id', 'revision', 'body-length', 'sign-key-sha3-384']);

/**
 * The canonical content of an assertion: headers in snapd's order (type,
 * format, authority-id, revision, primary key, the rest sorted, body-length,
 * sign-key-sha3-384), then the body if any. An optional primary key whose
 * value is its default (a snap-revision's `provenance: global-upload`) is
 * sorted with the rest, where snapd's signing puts it.
 */
export function canonicalContent(spec: TypeSpec<unknown>, headers: Headers, body: Uint8Array | undefined): Buffer {
  const lines: string[] = [];
  const put = (name: string) => {
    const v = headers[name];
    if (v !== undefined) appendEntry(lines, `${name}:`, v, 0);
  };
  put('type');
  if (headers['format'] !== undefined && headers['format'] !== '0') put('format');
  put('authority-id');
  if (headers['revision'] !== undefined && headers['revision'] !== '0') put('revision');
  // An optional primary key at its default is not in the primary key's place:
  // snapd's signing adds it among the other headers when it was left out.
  const atDefault = (k: string) => headers[k] !== undefined && headers[k] === spec.primaryKeyDefaults?.[k];
  const primary = new Set(spec.primaryKey.filter((k) => !atDefault(k)));
  for (const k of primary) put(k);
  for (const k of Object.keys(headers).sort()) {
    if (!PLACED.has(k) && !primary.has(k)) put(k);
  }
  if (body && body.length > 0) lines.push(`body-length: ${body.length}`);
  put('sign-key-sha3-384');
  const head = Buffer.from(lines.join('\n'), 'utf8');
  return body && body.length > 0 ? Buffer.concat([head, NLNL, body]) : head;
}

/** True when `a`'s content is exactly what the codec would write for its headers and body. */
export function isCanonical(a: Assertion): boolean {
  return canonicalContent(a.spec, a.headers, a.body).equals(a.content);
}

export interface SignOptions {
  /** The signature's creation time; defaults to now. */
  readonly signedAt?: Date;
  /**
   * Keys the vault signs with must have 4096 bits or more (snapd's rule for
   * external signers). Devices sign their own requests with whatever key they
   * have: a device emulator may lower this.
   */
  readonly minimumKeyBits?: number;
}

/**
 * The headers of `a`'s next revision, with `changes`, ready to sign again:
 * the signature's own headers (key id, body length) left for the signer.
 */
export function nextRevisionHeaders(a: Assertion, changes: Readonly<Record<string, HeaderValue>> = {}): Record<string, HeaderValue> {
  const { 'sign-key-sha3-384': _key, 'body-length': _length, ...headers } = a.headers as Record<string, HeaderValue>;
  return { ...headers, ...changes, revision: String(a.revision + 1) };
}

/**
 * Signs headers and body into an assertion. The type's checks run on the
 * result exactly as on decode, so what we sign is what snapd accepts.
 */
export async function signAssertion(
  headers: Readonly<Record<string, HeaderValue>>,
  body: Uint8Array | undefined,
  signer: Signer,
  options: SignOptions = {},
): Promise<Assertion> {
  const type = headers['type'];
  if (typeof type !== 'string' || type === '') {
    throw new AssertionError('ERR_HEADER_MISSING', 'cannot sign an assertion without a "type" header', { header: 'type' });
  }
  if (!isKnownType(type)) {
    throw new AssertionError('ERR_TYPE_UNKNOWN', `cannot sign an assertion of unknown type "${type}"`, { header: 'type' });
  }
  const final: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'body-length' || name === 'sign-key-sha3-384') continue;
    if (!/^[a-z](?:-?[a-z0-9])*$/.test(name)) {
      throw new AssertionError('ERR_HEADER_INVALID', `invalid header name "${name}"`, { header: name });
    }
    checkEncodable(name, value);
    final[name] = value;
  }
  // snapd's signing writes a left-out optional primary key with its default,
  // and leaves out one given explicitly at its default.
  for (const [k, defaultValue] of Object.entries(typeSpec(type).primaryKeyDefaults ?? {})) {
    if (final[k] === undefined) final[k] = defaultValue;
    else if (final[k] === defaultValue) delete final[k];
  }
  final['sign-key-sha3-384'] = signer.publicKey.id;
  const content = canonicalContent(typeSpec(type), final, body);
  // Round-trip through the decoder: the signed text, not our input, is the assertion.
  const { head, body: parsedBody } = splitHeadersBody(content);
  const checked = check(parseHead(head), parsedBody);
  const signature = Buffer.from(await signContent(content, signer, options.signedAt ?? new Date(), options.minimumKeyBits), 'latin1');
  return build(checked, content, signature);
}
