import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import {
  AssertionError,
  canonicalContent,
  decodeAssertion,
  decodeStream,
  encodeStream,
  typeSpec,
  type HeaderValue,
} from '../../src/assertions/index.js';
import { readVector } from '../support/vectors.js';

/** A real signature text: decoding checks its form, not what it signs. */
const SIGNATURE = (() => {
  const text = readVector('generated/uc16.serial').toString();
  return text.slice(text.lastIndexOf('\n\n') + 2);
})();
const SIGN_KEY = 'NrwZQnpVwWRdDzmfzrhHoI439oXbQUbSzwhy33BkR-Y9AN8JWpjwpyqLZEgqHxe4';
const RESERVED = new Set(['type', 'format', 'authority-id', 'revision', 'body-length', 'sign-key-sha3-384']);

const name = fc
  .stringMatching(/^[a-z](?:-?[a-z0-9]){0,12}$/)
  .filter((n) => !RESERVED.has(n));
const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '-', ':', 'é', '✓', '\n', '\t', '"', '\\'), maxLength: 30 });

const { value } = fc.letrec<{ value: HeaderValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.array(tie('value'), { minLength: 1, maxLength: 4 }),
    fc.dictionary(name, tie('value'), { minKeys: 1, maxKeys: 4 }),
  ),
}));

/** Lists and maps whose members are all empty would encode to nothing: keep every container non-empty. */
const hasEmpty = (v: HeaderValue): boolean =>
  typeof v === 'string'
    ? false
    : Array.isArray(v)
      ? v.length === 0 || v.some(hasEmpty)
      : Object.keys(v).length === 0 || Object.values(v).some(hasEmpty);

const headers = fc.dictionary(name, value, { minKeys: 0, maxKeys: 6 }).filter((h) => !Object.values(h).some(hasEmpty));
const body = fc.option(fc.string({ unit: fc.constantFrom('b', ' ', '\n', 'ü', '.'), minLength: 1, maxLength: 40 }), {
  nil: undefined,
});

function encode(h: Record<string, HeaderValue>, b: string | undefined): Buffer {
  const all = { type: 'x-property', ...h, 'sign-key-sha3-384': SIGN_KEY };
  const content = canonicalContent(typeSpec('x-property'), all, b === undefined ? undefined : Buffer.from(b));
  return Buffer.concat([content, Buffer.from('\n\n'), Buffer.from(SIGNATURE)]);
}

describe('encode then decode', () => {
  test.prop([headers, body], { numRuns: 300 })('is the identity on header trees and bodies', (h, b) => {
    const decoded = decodeAssertion(encode(h, b));
    expect(decoded.headers).toEqual({ type: 'x-property', ...h, 'sign-key-sha3-384': SIGN_KEY, ...(b ? { 'body-length': String(Buffer.byteLength(b)) } : {}) });
    expect(decoded.body?.toString()).toBe(b);
  });

  test.prop([fc.array(fc.tuple(headers, body), { minLength: 1, maxLength: 4 })], { numRuns: 100 })(
    'is the identity on streams',
    (items) => {
      const encoded = items.map(([h, b]) => decodeAssertion(encode(h, b)));
      const stream = encodeStream(encoded);
      const decoded = decodeStream(stream);
      expect(decoded.map((a) => a.encode().toString())).toEqual(encoded.map((a) => a.encode().toString()));
    },
  );
});

describe('decoding hostile input', () => {
  const onlyOurErrors = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof AssertionError)) throw e;
      expect(e.code).toMatch(/^ERR_/);
    }
  };

  test.prop([fc.uint8Array({ maxLength: 600 })], { numRuns: 500 })('random bytes never throw anything but AssertionError', (bytes) => {
    onlyOurErrors(() => decodeAssertion(bytes));
    onlyOurErrors(() => decodeStream(bytes));
  });

  const vector = readVector('generated/uc16-serial-stream.assert');
  test.prop(
    [fc.array(fc.tuple(fc.nat({ max: vector.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })],
    { numRuns: 500 },
  )('a corrupted real stream never throws anything but AssertionError', (edits) => {
    const bytes = Buffer.from(vector);
    for (const [at, byte] of edits) bytes[at] = byte;
    onlyOurErrors(() => decodeStream(bytes));
    onlyOurErrors(() => decodeAssertion(bytes));
  });

  test.prop([fc.string({ unit: fc.constantFrom('a', ':', ' ', '\n', '-', 'b'), maxLength: 80 })], { numRuns: 500 })(
    'header-like text never throws anything but AssertionError',
    (head) => {
      onlyOurErrors(() => decodeAssertion(Buffer.from(`${head}\n\n${SIGNATURE}`)));
    },
  );
});
