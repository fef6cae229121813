import { execFileSync } from 'node:child_process';
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from '../../src/keystore/pkcs11-uri.js';
import { Pkcs11KeyStore } from '../../src/keystore/pkcs11/keystore.js';
import { SOFTHSM_MODULE, cleanupSoftHsm, createTestToken, softhsmRoot } from '../support/softhsm.js';

softhsmRoot();
const token = createTestToken('uri-oracle');
afterAll(() => cleanupSoftHsm());

describe('RFC 7512 PKCS#11 URIs', () => {
  it('reads token, object, binary id and query attributes', () => {
    expect(parsePkcs11Uri('pkcs11:token=My%20Vault;object=brand-2026;id=%01%FF;type=private?module-path=/usr/lib/x.so&pin-source=file:/etc/pin')).toEqual({
      token: 'My Vault',
      object: 'brand-2026',
      id: Buffer.from([1, 255]),
      type: 'private',
      modulePath: '/usr/lib/x.so',
      pinSource: 'file:/etc/pin',
    });
  });

  it.each([
    ['not a pkcs11 URI', 'http://x'],
    ['an unknown attribute', 'pkcs11:colour=red'],
    ['a repeated attribute', 'pkcs11:token=a;token=b'],
    ['a bad percent-encoding', 'pkcs11:token=%zz'],
    ['an unknown object type', 'pkcs11:type=gizmo'],
    ['a PIN in the URI', 'pkcs11:token=a?pin-value=1234'],
    ['a query attribute in the path', 'pkcs11:module-path=/x'],
  ])('refuses %s', (_, uri) => {
    expect(() => parsePkcs11Uri(uri)).toThrow(expect.objectContaining({ code: 'ERR_HSM_CONFIG' }));
  });

  it('never echoes a PIN value in its error', () => {
    let error: unknown;
    try {
      parsePkcs11Uri('pkcs11:token=a?pin-value=s3cret-PIN');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_HSM_CONFIG' });
    expect((error as Error).message).toMatch(/pin-value/);
    expect((error as Error).message).not.toContain('s3cret-PIN');
  });

  const text = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'Z', '0', ' ', ';', '?', '%', '=', '&', '/', 'é', '-', '.'), fc.string({ maxLength: 1 })), maxLength: 20 });
  const uri: fc.Arbitrary<Pkcs11Uri> = fc.record(
    {
      token: text,
      serial: text,
      object: text,
      id: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
      modulePath: text,
      pinSource: text,
    },
    { requiredKeys: [] },
  );

  test.prop([uri], { numRuns: 300 })('format then parse is the identity', (u) => {
    expect(parsePkcs11Uri(formatPkcs11Uri(u))).toEqual(u);
  });
});

describe('p11tool (GnuTLS) as an oracle', () => {
  const p11tool = (...args: string[]) =>
    execFileSync('p11tool', ['--provider', SOFTHSM_MODULE, ...args], { encoding: 'utf8', env: { ...process.env, GNUTLS_PIN: token.pin } });

  it('we read the token URI p11tool prints', () => {
    const url = /URL: (pkcs11:[^\n]*token=uri-oracle[^\n]*)/.exec(p11tool('--list-tokens'))?.[1];
    expect(url).toBeDefined();
    const parsed = parsePkcs11Uri(url!);
    expect(parsed.token).toBe('uri-oracle');
    expect(parsed.manufacturer).toBe('SoftHSM project');
    expect(parsed.model).toBe('SoftHSM v2');
  });

  it('p11tool finds a key by the URI we write, binary id included', async () => {
    const store = await Pkcs11KeyStore.open({ uri: token.uri, signers: 1 });
    const key = await store.generate('oracle-key.1');
    await store.close();
    const uri = formatPkcs11Uri({ token: 'uri-oracle', id: Buffer.from(key.id, 'hex'), type: 'private' });
    const out = p11tool('--login', '--list-all', uri);
    expect(out).toContain('oracle-key.1');
    expect(out).toMatch(/Type: Private key/);
    const byLabel = p11tool('--login', '--list-all', formatPkcs11Uri({ token: 'uri-oracle', object: 'oracle-key.1', type: 'public' }));
    expect(byLabel).toMatch(/Type: Public key/);
  });
});
