import { AssertionError, type AssertionErrorCode } from './errors.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL_RAW = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes standard padded base64 that may be broken into lines, as Go's
 * decoder does (it ignores line breaks and nothing else). Node's own decoder
 * silently skips any invalid character, which would accept garbage.
 */
export function decodeBase64Lines(text: string, code: AssertionErrorCode, what: string): Buffer {
  const flat = text.replace(/[\r\n]/g, '');
  if (!BASE64.test(flat)) {
    throw new AssertionError(code, `cannot decode ${what}: invalid base64`);
  }
  return Buffer.from(flat, 'base64');
}

/** Encodes as standard padded base64 in lines of 76 characters, joined by line breaks. */
export function encodeBase64Lines(data: Uint8Array): string[] {
  const flat = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < flat.length; i += 76) lines.push(flat.slice(i, i + 76));
  return lines;
}

export function isBase64UrlRaw(text: string): boolean {
  return BASE64URL_RAW.test(text) && text.length % 4 !== 1;
}
