import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AssertionError,
  NodeSigner,
  decodeStream,
  signAssertion,
  type Assertion,
  type AssertionErrorCode,
} from '../../src/assertions/index.js';
import { generatedKey, readVector } from '../support/vectors.js';

/**
 * One good assertion per type, and one-line changes to it, each with the
 * exact error code (and the header it names). Header checks run when
 * decoding, before any signature check, so the changed text need not be
 * re-signed.
 */
type Change = [description: string, find: string | RegExp, replace: string, code: AssertionErrorCode, header?: string];

const DELETE = '';

function mutate(text: string, find: string | RegExp, replace: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => (typeof find === 'string' ? l === find : find.test(l)));
  if (i === -1) throw new Error(`test case error: no line ${String(find)}`);
  if (replace === DELETE) lines.splice(i, 1);
  else lines.splice(i, 1, ...replace.split('\n'));
  return lines.join('\n');
}

function refusal(text: string): AssertionError {
  try {
    decodeStream(Buffer.from(text));
  } catch (e) {
    if (e instanceof AssertionError) return e;
    throw e;
  }
  throw new Error('expected the changed assertion to be refused');
}

function table(name: string, base: () => string, changes: Change[]): void {
  describe(name, () => {
    it('the unchanged assertion decodes', () => {
      expect(decodeStream(Buffer.from(base()))).toHaveLength(1);
    });
    it.each(changes)('%s', (_, find, replace, code, header) => {
      const err = refusal(mutate(base(), find, replace));
      expect(err.code).toBe(code);
      if (header !== undefined) expect(err.header).toBe(header);
    });
  });
}

const vector = (path: string) => () => readVector(path).toString();

table('account', vector('generated/brand.account'), [
  ['without display-name', /^display-name:/, DELETE, 'ERR_HEADER_MISSING', 'display-name'],
  ['without validation', /^validation:/, DELETE, 'ERR_HEADER_MISSING', 'validation'],
  ['with a bad timestamp', /^timestamp:/, 'timestamp: 2024-13-01T00:00:00Z', 'ERR_HEADER_INVALID', 'timestamp'],
  ['without authority-id', /^authority-id:/, DELETE, 'ERR_HEADER_MISSING', 'authority-id'],
  ['with a "/" in the primary key', /^account-id:/, 'account-id: a/b', 'ERR_HEADER_INVALID', 'account-id'],
  ['with a list as username', /^username:/, 'username:\n  - x', 'ERR_HEADER_INVALID', 'username'],
  ['with a negative revision', /^authority-id:/, 'authority-id: test-root\nrevision: -1', 'ERR_HEADER_INVALID', 'revision'],
  ['with a revision with leading zeros', /^authority-id:/, 'authority-id: test-root\nrevision: 01', 'ERR_HEADER_INVALID', 'revision'],
  ['with a short sign-key-sha3-384', /^sign-key-sha3-384:/, 'sign-key-sha3-384: abc', 'ERR_HEADER_INVALID', 'sign-key-sha3-384'],
  ['with a repeated header', /^validation:/, 'validation: verified\nvalidation: verified', 'ERR_ASSERTION_SYNTAX', 'validation'],
  ['with an upper-case header name', /^validation:/, 'Validation: verified', 'ERR_ASSERTION_SYNTAX'],
  ['with no space after the colon', /^validation:/, 'validation:verified', 'ERR_ASSERTION_SYNTAX', 'validation'],
  ['with a line without a colon', /^validation:/, 'validation', 'ERR_ASSERTION_SYNTAX'],
]);

table('account-key', vector('generated/brand.account-key'), [
  ['without since', /^since:/, DELETE, 'ERR_HEADER_MISSING', 'since'],
  ['with until before since', /^since:/, 'since: 2024-01-01T00:00:00Z\nuntil: 2023-01-01T00:00:00Z', 'ERR_HEADER_INVALID', 'until'],
  ['with an invalid name', /^name:/, 'name: Serials!', 'ERR_HEADER_INVALID', 'name'],
  ['without account-id', /^account-id:/, DELETE, 'ERR_HEADER_MISSING', 'account-id'],
  ['with the id of another key', /^public-key-sha3-384:/, 'public-key-sha3-384: oLDDHEp18KhnwZStSnYacCTWxZRA6SFLgwJJZejO3nG2DSQKuhnOsnBplaIAuoVP', 'ERR_HEADER_MISMATCH', 'public-key-sha3-384'],
  ['with a declared body length that differs', /^body-length:/, 'body-length: 716', 'ERR_ASSERTION_SYNTAX'],
  ['with a body that is not a key', /^AcbBTQ/, 'A'.repeat(76), 'ERR_PUBLIC_KEY_INVALID'],
]);

table('model, series 16', vector('generated/uc16.model'), [
  ['without architecture', /^architecture:/, DELETE, 'ERR_HEADER_MISSING', 'architecture'],
  ['without gadget', /^gadget:/, DELETE, 'ERR_HEADER_MISSING', 'gadget'],
  ['without kernel', /^kernel:/, DELETE, 'ERR_HEADER_MISSING', 'kernel'],
  ['without timestamp', /^timestamp:/, DELETE, 'ERR_HEADER_MISSING', 'timestamp'],
  ['with an upper-case model', /^model:/, 'model: Test-UC16', 'ERR_HEADER_INVALID', 'model'],
  ['with an invalid model', /^model:/, 'model: test_uc16', 'ERR_HEADER_INVALID', 'model'],
  ['signed by another than the brand', /^authority-id:/, 'authority-id: test-root', 'ERR_HEADER_MISMATCH', 'authority-id'],
  ['with a risk as kernel track', /^kernel:/, 'kernel: pc-kernel=stable', 'ERR_HEADER_INVALID', 'kernel'],
  ['with a grade', /^timestamp:/, 'timestamp: 2024-01-02T00:00:00Z\ngrade: signed', 'ERR_HEADER_FORBIDDEN', 'grade'],
  ['with a classic value that is not a bool', /^architecture:/, 'architecture: amd64\nclassic: yes', 'ERR_HEADER_INVALID', 'classic'],
  ['with serial-authority as a string', /^timestamp:/, 'timestamp: 2024-01-02T00:00:00Z\nserial-authority: test-vault', 'ERR_HEADER_INVALID', 'serial-authority'],
  ['with an invalid required snap', /^required-snaps:/, 'required-snaps:\n  - Bad_Snap', 'ERR_HEADER_INVALID', 'required-snaps'],
  ['with distribution', /^timestamp:/, 'timestamp: 2024-01-02T00:00:00Z\ndistribution: ubuntu', 'ERR_HEADER_FORBIDDEN', 'distribution'],
]);

table('model, grade-based', vector('generated/uc20.model'), [
  ['without base', /^base:/, DELETE, 'ERR_HEADER_MISSING', 'base'],
  ['with an unknown grade', /^grade:/, 'grade: super', 'ERR_HEADER_INVALID', 'grade'],
  ['with an unknown storage-safety', /^storage-safety:/, 'storage-safety: maybe', 'ERR_HEADER_INVALID', 'storage-safety'],
  ['secured but not encrypted', /^grade:/, 'grade: secured', 'ERR_HEADER_INVALID', 'storage-safety'],
  ['with a separate kernel header', /^base:/, 'base: core20\nkernel: pc-kernel', 'ERR_HEADER_FORBIDDEN', 'kernel'],
  ['with a snap id missing in a signed model', /^ {4}id: PMrrV4ml8uWuEUDBT8dSGnKUYbevVhc4/, DELETE, 'ERR_HEADER_MISSING', 'snaps'],
  ['with an invalid snap id', /^ {4}id: PMrrV4ml8uWuEUDBT8dSGnKUYbevVhc4/, '    id: short', 'ERR_HEADER_INVALID', 'id'],
  ['with an unknown snap type', /^ {4}type: snapd/, '    type: daemon', 'ERR_HEADER_INVALID', 'snaps'],
  ['without a gadget', /^ {4}type: gadget/, '    type: app', 'ERR_HEADER_MISSING', 'snaps'],
  ['with two kernels', /^ {4}type: gadget/, '    type: kernel', 'ERR_HEADER_INVALID', 'snaps'],
  ['with an unknown presence', /^ {4}presence: optional/, '    presence: maybe', 'ERR_HEADER_INVALID', 'snaps'],
  ['with modes on an essential snap', /^ {4}type: kernel/, '    type: kernel\n    modes:\n      - run', 'ERR_HEADER_INVALID', 'snaps'],
  ['with a default channel without track', /^ {4}default-channel: 20\/stable/, '    default-channel: stable', 'ERR_HEADER_INVALID', 'snaps'],
  ['with the same snap twice', /^ {4}name: hello-world/, '    name: pc', 'ERR_HEADER_INVALID', 'snaps'],
  ['with snaps as a string', /^snaps:/, 'snaps: all', 'ERR_ASSERTION_SYNTAX'],
]);

table('model, classic', vector('generated/classic.model'), [
  ['with a kernel', /^classic:/, 'classic: true\nkernel: pc-kernel', 'ERR_HEADER_FORBIDDEN', 'kernel'],
  ['with a base', /^classic:/, 'classic: true\nbase: core22', 'ERR_HEADER_FORBIDDEN', 'base'],
]);

table('serial', vector('generated/uc16.serial'), [
  ['without brand-id', /^brand-id:/, DELETE, 'ERR_HEADER_MISSING', 'brand-id'],
  ['with an invalid brand-id', /^brand-id:/, 'brand-id: x', 'ERR_HEADER_INVALID', 'brand-id'],
  ['without serial', /^serial:/, DELETE, 'ERR_HEADER_MISSING', 'serial'],
  ['with an empty serial', /^serial:/, 'serial: ', 'ERR_HEADER_MISSING', 'serial'],
  ['without device-key-sha3-384', /^device-key-sha3-384:/, DELETE, 'ERR_HEADER_MISSING', 'device-key-sha3-384'],
  ['with another device key id', /^device-key-sha3-384:/, 'device-key-sha3-384: NrwZQnpVwWRdDzmfzrhHoI439oXbQUbSzwhy33BkR-Y9AN8JWpjwpyqLZEgqHxe4', 'ERR_HEADER_MISMATCH', 'device-key-sha3-384'],
  ['with a device key that is not a key', /^ {4}AcbBTQ/, `    ${'A'.repeat(76)}`, 'ERR_PUBLIC_KEY_INVALID', 'device-key'],
  ['without timestamp', /^timestamp:/, DELETE, 'ERR_HEADER_MISSING', 'timestamp'],
  ['with a date-only timestamp', /^timestamp:/, 'timestamp: 2024-01-03', 'ERR_HEADER_INVALID', 'timestamp'],
  ['with an upper-case model', /^model:/, 'model: TEST', 'ERR_HEADER_INVALID', 'model'],
]);

table('serial-request', vector('generated/uc16.serial-request'), [
  ['without request-id', /^request-id:/, DELETE, 'ERR_HEADER_MISSING', 'request-id'],
  ['without brand-id', /^brand-id:/, DELETE, 'ERR_HEADER_MISSING', 'brand-id'],
  ['with an authority-id', /^brand-id:/, 'brand-id: test-brand\nauthority-id: test-brand', 'ERR_HEADER_FORBIDDEN', 'authority-id'],
  ['signed by another key than its device key', /^sign-key-sha3-384:/, 'sign-key-sha3-384: NrwZQnpVwWRdDzmfzrhHoI439oXbQUbSzwhy33BkR-Y9AN8JWpjwpyqLZEgqHxe4', 'ERR_HEADER_MISMATCH', 'sign-key-sha3-384'],
  ['with a proposed serial as a list', /^serial:/, 'serial:\n  - a', 'ERR_HEADER_INVALID', 'serial'],
]);

table('store', vector('snapd/tests-lib-assertions/fake.store'), [
  ['without operator-id', /^operator-id:/, DELETE, 'ERR_HEADER_MISSING', 'operator-id'],
  ['with a url that is not http', /^url:/, 'url: ftp://example.com', 'ERR_HEADER_INVALID', 'url'],
  ['with a url with a query', /^url:/, 'url: https://example.com/?x=1', 'ERR_HEADER_INVALID', 'url'],
  ['without timestamp', /^timestamp:/, DELETE, 'ERR_HEADER_MISSING', 'timestamp'],
]);

const autoImportSystemUser = () => {
  const text = readVector('snapd/tests-lib-assertions/auto-import.assert').toString();
  return text.slice(text.indexOf('type: system-user'));
};
table('system-user', autoImportSystemUser, [
  ['without email', /^email:/, DELETE, 'ERR_HEADER_MISSING', 'email'],
  ['with an invalid email', /^email:/, 'email: not an email', 'ERR_HEADER_INVALID', 'email'],
  ['with an invalid username', /^username:/, 'username: -root', 'ERR_HEADER_INVALID', 'username'],
  ['with an md5 password', /^password:/, 'password: $1$salt$hash', 'ERR_HEADER_INVALID', 'password'],
  ['with until before since', /^until:/, 'until: 2010-05-16T18:06:04+00:00', 'ERR_HEADER_INVALID', 'until'],
  ['with serials in format 0', /^since:/, 'serials:\n  - 7777\nsince: 2020-05-16T18:06:04+00:00', 'ERR_HEADER_INVALID', 'serials'],
]);

/** Types without a vector: sign a good one, then change one line of it. */
describe('types signed here', () => {
  const brand = () => new NodeSigner(generatedKey('brand').privateKey);
  let request: Assertion;
  let session: Assertion;
  let declaration: Assertion;
  let revision: Assertion;

  beforeAll(async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
    const fresh = new NodeSigner(privateKey);
    request = await signAssertion(
      { type: 'account-key-request', 'account-id': 'test-brand', name: 'vault-1', 'public-key-sha3-384': fresh.publicKey.id, since: '2024-01-01T00:00:00Z' },
      Buffer.from(fresh.publicKey.encoded),
      fresh,
    );
    const device = new NodeSigner(generatedKey('device').privateKey);
    session = await signAssertion(
      { type: 'device-session-request', 'brand-id': 'test-brand', model: 'test-uc16', serial: 'TEST-0001', nonce: 'n-1', timestamp: '2024-01-04T00:00:00Z' },
      undefined,
      device,
    );
    declaration = await signAssertion(
      { type: 'snap-declaration', 'authority-id': 'test-brand', series: '16', 'snap-id': 'buPKUD3TKqCOgLEjjHx5kSiCpIs5cMuQ', 'snap-name': 'hello', 'publisher-id': 'test-brand', timestamp: '2024-01-04T00:00:00Z' },
      undefined,
      brand(),
    );
    revision = await signAssertion(
      {
        type: 'snap-revision',
        'authority-id': 'test-brand',
        'snap-sha3-384': 'NrwZQnpVwWRdDzmfzrhHoI439oXbQUbSzwhy33BkR-Y9AN8JWpjwpyqLZEgqHxe4',
        'snap-id': 'buPKUD3TKqCOgLEjjHx5kSiCpIs5cMuQ',
        'snap-size': '4096',
        'snap-revision': '7',
        'developer-id': 'test-brand',
        timestamp: '2024-01-04T00:00:00Z',
      },
      undefined,
      brand(),
    );
  });

  const cases: [string, () => Assertion, Change][] = [
    ['account-key-request', () => request, ['without name', /^name:/, DELETE, 'ERR_HEADER_MISSING', 'name']],
    ['account-key-request', () => request, ['without since', /^since:/, DELETE, 'ERR_HEADER_MISSING', 'since']],
    ['account-key-request', () => request, ['with an authority-id', /^account-id:/, 'account-id: test-brand\nauthority-id: test-brand', 'ERR_HEADER_FORBIDDEN', 'authority-id']],
    ['device-session-request', () => session, ['without nonce', /^nonce:/, DELETE, 'ERR_HEADER_MISSING', 'nonce']],
    ['device-session-request', () => session, ['without serial', /^serial:/, DELETE, 'ERR_HEADER_MISSING', 'serial']],
    ['device-session-request', () => session, ['without timestamp', /^timestamp:/, DELETE, 'ERR_HEADER_MISSING', 'timestamp']],
    ['snap-declaration', () => declaration, ['without publisher-id', /^publisher-id:/, DELETE, 'ERR_HEADER_MISSING', 'publisher-id']],
    ['snap-declaration', () => declaration, ['without snap-name', /^snap-name:/, DELETE, 'ERR_HEADER_MISSING', 'snap-name']],
    ['snap-declaration', () => declaration, ['with plugs as a list', /^publisher-id:/, 'plugs:\n  - x\npublisher-id: test-brand', 'ERR_HEADER_INVALID', 'plugs']],
    ['snap-revision', () => revision, ['with revision 0', /^snap-revision:/, 'snap-revision: 0', 'ERR_HEADER_INVALID', 'snap-revision']],
    ['snap-revision', () => revision, ['with a negative size', /^snap-size:/, 'snap-size: -1', 'ERR_HEADER_INVALID', 'snap-size']],
    ['snap-revision', () => revision, ['with a bad digest', /^snap-sha3-384:/, 'snap-sha3-384: abc', 'ERR_HEADER_INVALID', 'snap-sha3-384']],
    ['snap-revision', () => revision, ['without developer-id', /^developer-id:/, DELETE, 'ERR_HEADER_MISSING', 'developer-id']],
  ];

  it.each(['account-key-request', 'device-session-request', 'snap-declaration', 'snap-revision'])('a good %s decodes', (type) => {
    const a = { 'account-key-request': request, 'device-session-request': session, 'snap-declaration': declaration, 'snap-revision': revision }[type]!;
    expect(decodeStream(a.encode())[0]?.type).toBe(type);
  });

  it.each(cases.map(([type, get, change]) => ({ name: `${type} ${change[0]}`, get, change })))('$name', ({ get, change }) => {
    const [, find, replace, code, header] = change;
    const err = refusal(mutate(get().encode().toString(), find, replace));
    expect(err.code).toBe(code);
    if (header !== undefined) expect(err.header).toBe(header);
  });
});
