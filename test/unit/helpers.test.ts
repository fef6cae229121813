import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { formatRfc3339, parseRfc3339 } from '../../src/assertions/index.js';
import { checkSerialTemplate, formatSerial } from '../../src/catalog/models.js';
import { CookieSealer } from '../../src/http/admin/cookies.js';

/** The small pure helpers the services lean on, each against its rules. */

describe('serial templates', () => {
  it('fills the model, the brand and the counter, zero-padded as asked', () => {
    expect(formatSerial('{model}-{n:08}', { model: 'gw', brand: 'acme', n: 7 })).toBe('gw-00000007');
    expect(formatSerial('{brand}.{model}.{n}', { model: 'gw', brand: 'acme', n: 1234 })).toBe('acme.gw.1234');
    expect(formatSerial('X{n:03}', { model: 'gw', brand: 'acme', n: 12345 })).toBe('X12345');
  });

  it.each(['GW-{n:06}', '{model}-{n}', 'a.b_c-{n:010}'])('takes %s', (t) => {
    expect(checkSerialTemplate(t)).toBe(t);
  });

  it.each([
    ['no counter', '{model}-001'],
    ['an unknown field', '{model}-{serial}-{n}'],
    ['a space', 'GW {n}'],
    ['a padding without a zero', 'GW-{n:8}'],
    ['nothing', ''],
  ])('refuses %s with its code', (_, t) => {
    expect(() => checkSerialTemplate(t)).toThrow(expect.objectContaining({ code: 'ERR_SERIAL_TEMPLATE_INVALID' }));
  });
});

describe('RFC 3339 as Go parses it', () => {
  it.each([
    ['2024-01-05T00:00:00Z', '2024-01-05T00:00:00.000Z'],
    ['2024-01-05t10:20:30z', '2024-01-05T10:20:30.000Z'],
    ['2024-01-05T10:20:30.123456+02:00', '2024-01-05T08:20:30.123Z'],
    ['2024-02-29T23:59:59-00:30', '2024-03-01T00:29:59.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseRfc3339(text)?.toISOString()).toBe(iso);
  });

  it.each(['2024-01-05', '2024-01-05T00:00:00', '2024-13-01T00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-05T24:00:00Z', '2024-01-05T00:00:00+24:00', ' 2024-01-05T00:00:00Z', '2024-1-5T00:00:00Z'])(
    'refuses %s',
    (text) => {
      expect(parseRfc3339(text)).toBeUndefined();
    },
  );

  test.prop([fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true })])(
    'reads back what formatRfc3339 writes, to the second',
    (d) => {
      expect(parseRfc3339(formatRfc3339(d))?.getTime()).toBe(Math.floor(d.getTime() / 1000) * 1000);
    },
  );
});

describe('the cookie sealer', () => {
  const sealer = new CookieSealer(Buffer.alloc(32, 7));

  it('opens what it sealed, for the same purpose only', () => {
    const sealed = sealer.seal('login', { state: 's', n: 1 });
    expect(sealer.open('login', sealed)).toEqual({ state: 's', n: 1 });
    expect(sealer.open('session', sealed)).toBeUndefined();
    expect(new CookieSealer(Buffer.alloc(32, 8)).open('login', sealed)).toBeUndefined();
  });

  it('refuses anything changed: the data, the MAC, extra parts, nothing at all', () => {
    const sealed = sealer.seal('login', { a: 1 });
    const [data, mac] = sealed.split('.') as [string, string];
    for (const bad of [`${data}x.${mac}`, `${data}.${mac.slice(1)}`, `${sealed}.x`, `.${mac}`, `${data}.`, '', undefined]) {
      expect(sealer.open('login', bad), String(bad)).toBeUndefined();
    }
  });

  it('derives a CSRF token per session and checks it in full', () => {
    const token = sealer.csrfFor('session-1');
    expect(sealer.checkCsrf('session-1', token)).toBe(true);
    expect(sealer.checkCsrf('session-2', token)).toBe(false);
    expect(sealer.checkCsrf('session-1', token.slice(0, -1))).toBe(false);
    expect(sealer.checkCsrf('session-1', undefined)).toBe(false);
  });
});
