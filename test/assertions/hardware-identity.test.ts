import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AssertionError,
  NodeSigner,
  TrustDatabase,
  decodeStream,
  hardwareKeyDigest,
  isCanonical,
  readHardwareBody,
  signAssertion,
  verifyRequestIdSignature,
  type Assertion,
  type AssertionErrorCode,
  type HardwareIdentityView,
} from '../../src/assertions/index.js';
import { decodeVector, generatedKey } from '../support/vectors.js';

/**
 * The hardware-identity type as snapd's asserts/hardware_identity.go reads
 * it, its refusals one line at a time (hardware_identity_test.go's
 * TestDecodeInvalid, with snapd's messages), and the request-id signature
 * a gadget's prepare-serial-request hook makes with the hardware key.
 */

const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('base64');

async function identity(hardwareKey: KeyObject, changes: Record<string, string> = {}): Promise<Assertion<HardwareIdentityView>> {
  const key = changes['hardware-id-key'] ?? spki(hardwareKey);
  const a = await signAssertion(
    {
      type: 'hardware-identity',
      'authority-id': 'test-brand',
      'issuer-id': 'test-brand',
      manufacturer: 'some-manufacturer',
      'hardware-name': 'raspberry-pi-4gb',
      'hardware-id': 'random-id-1',
      'hardware-id-key': key,
      'hardware-id-key-sha3-384': hardwareKeyDigest(key),
      ...changes,
    },
    undefined,
    new NodeSigner(generatedKey('brand').privateKey),
    { signedAt: new Date('2024-02-01T00:00:00Z') },
  );
  if (!a.is('hardware-identity')) throw new Error('test setup: not a hardware-identity');
  return a;
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

function mutate(text: string, find: RegExp, replace: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => find.test(l));
  if (i === -1) throw new Error(`test case error: no line ${String(find)}`);
  if (replace === '') lines.splice(i, 1);
  else lines.splice(i, 1, ...replace.split('\n'));
  return lines.join('\n');
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
// An ElGamal key Go cannot parse: snapd's own test value.
const EL_GAMAL = 'TUZNd09BWUdLdzRIQWdFQk1DNENGUUR0Z0dwZGNhdXkraExpSFF2TzFVV240ck90Q3dJVkFPdmg2OEZYNjBHVQo1TllFOW05MzJESDhYOFpvQXhjQUFoUU5PdEFNYktUazdqQi9FSlgvaWJ3bGVpWFpDZz09';

describe('hardware-identity', () => {
  let good: Assertion<HardwareIdentityView>;
  let text: string;
  beforeAll(async () => {
    good = await identity(ec.publicKey);
    text = good.encode().toString();
  });

  it('decodes with the headers snapd reads, the key parsed', () => {
    const [a] = decodeStream(Buffer.from(text));
    expect(a?.is('hardware-identity')).toBe(true);
    const v = (a as Assertion<HardwareIdentityView>).view;
    expect(v).toMatchObject({ issuerId: 'test-brand', manufacturer: 'some-manufacturer', hardwareName: 'raspberry-pi-4gb', hardwareId: 'random-id-1', hardwareIdKey: spki(ec.publicKey) });
    expect(v.hardwareIdKeySha3384).toBe(hardwareKeyDigest(spki(ec.publicKey)));
    expect(v.hardwareKey.equals(ec.publicKey)).toBe(true);
    expect(a?.body).toBeUndefined();
    expect(a?.primaryKey).toEqual(['test-brand', v.hardwareIdKeySha3384]);
  });

  it('is signed in canonical order: the primary key after authority-id, the rest sorted', () => {
    expect(text.split('\n').slice(0, 9).map((l) => l.slice(0, l.indexOf(':')))).toEqual(['type', 'authority-id', 'issuer-id', 'hardware-id-key-sha3-384', 'hardware-id', 'hardware-id-key', 'hardware-name', 'manufacturer', 'sign-key-sha3-384']);
    expect(isCanonical(good)).toBe(true);
  });

  it('verifies through the brand chain', () => {
    const db = new TrustDatabase({ trusted: decodeVector('generated/root.trusted.assert') });
    db.addBatch(decodeVector('generated/brand-chain.assert'));
    expect(db.check(good)).toEqual({ ok: true });
  });

  it.each([
    ['RSA', () => rsa.publicKey],
    ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
    ['P-224', () => generateKeyPairSync('ec', { namedCurve: 'P-224' }).publicKey],
    ['Ed25519', () => generateKeyPairSync('ed25519').publicKey],
    ['X25519', () => generateKeyPairSync('x25519').publicKey],
    ['DSA', () => generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey],
  ])('takes a %s key, as Go parses it', async (_, make) => {
    const k = make();
    expect((await identity(k)).view.hardwareKey.equals(k)).toBe(true);
  });

  it('takes a key written over several lines, digested as written', async () => {
    const lines = spki(rsa.publicKey).match(/.{1,64}/g)!.join('\n');
    const a = await identity(rsa.publicKey, { 'hardware-id-key': lines });
    expect(a.view.hardwareIdKey).toBe(lines);
    expect(a.view.hardwareIdKeySha3384).toBe(hardwareKeyDigest(lines));
    expect(a.view.hardwareKey.equals(rsa.publicKey)).toBe(true);
  });

  const key = () => new RegExp('^hardware-id-key: ');
  type Case = [description: string, find: RegExp, replace: string | (() => string), code: AssertionErrorCode, header: string, message: string];
  const cases: Case[] = [
    ['without issuer-id', /^issuer-id:/, '', 'ERR_HEADER_MISSING', 'issuer-id', '"issuer-id" header is mandatory'],
    ['with an empty issuer-id', /^issuer-id:/, 'issuer-id: ', 'ERR_HEADER_MISSING', 'issuer-id', '"issuer-id" header should not be empty'],
    ['with an invalid issuer-id', /^issuer-id:/, 'issuer-id: @9', 'ERR_HEADER_INVALID', 'issuer-id', '"issuer-id" header contains invalid characters: "@9"'],
    ['with an issuer other than the authority', /^issuer-id:/, 'issuer-id: other-brand', 'ERR_HEADER_MISMATCH', 'issuer-id', 'issuer id must match authority id'],
    ['without manufacturer', /^manufacturer:/, '', 'ERR_HEADER_MISSING', 'manufacturer', '"manufacturer" header is mandatory'],
    ['with an empty manufacturer', /^manufacturer:/, 'manufacturer: ', 'ERR_HEADER_MISSING', 'manufacturer', '"manufacturer" header should not be empty'],
    ['without hardware-name', /^hardware-name:/, '', 'ERR_HEADER_MISSING', 'hardware-name', '"hardware-name" header is mandatory'],
    ['with an empty hardware-name', /^hardware-name:/, 'hardware-name: ', 'ERR_HEADER_MISSING', 'hardware-name', '"hardware-name" header should not be empty'],
    ['with an invalid hardware-name', /^hardware-name:/, 'hardware-name: raspberry&pi', 'ERR_HEADER_INVALID', 'hardware-name', '"hardware-name" header contains invalid characters: "raspberry&pi"'],
    ['without hardware-id', /^hardware-id:/, '', 'ERR_HEADER_MISSING', 'hardware-id', '"hardware-id" header is mandatory'],
    ['with an empty hardware-id', /^hardware-id:/, 'hardware-id: ', 'ERR_HEADER_MISSING', 'hardware-id', '"hardware-id" header should not be empty'],
    ['without hardware-id-key', key(), '', 'ERR_HEADER_MISSING', 'hardware-id-key', '"hardware-id-key" header is mandatory'],
    ['with an empty hardware-id-key', key(), 'hardware-id-key: ', 'ERR_HEADER_MISSING', 'hardware-id-key', '"hardware-id-key" header should not be empty'],
    ['with a hardware-id-key that is no PEM body', key(), 'hardware-id-key: something', 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'no PEM block was found'],
    ['with a hardware-id-key that is no key', key(), 'hardware-id-key: TUlHZU1BMEdDU3FH', 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: '],
    ['with an ElGamal hardware-id-key', key(), `hardware-id-key: ${EL_GAMAL}`, 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: '],
    ['without hardware-id-key-sha3-384', /^hardware-id-key-sha3-384:/, '', 'ERR_HEADER_MISSING', 'hardware-id-key-sha3-384', '"hardware-id-key-sha3-384" header is mandatory'],
    ['with an empty hardware-id-key-sha3-384', /^hardware-id-key-sha3-384:/, 'hardware-id-key-sha3-384: ', 'ERR_HEADER_MISSING', 'hardware-id-key-sha3-384', '"hardware-id-key-sha3-384" header should not be empty'],
    ['with a hardware-id-key-sha3-384 of something else', /^hardware-id-key-sha3-384:/, 'hardware-id-key-sha3-384: random', 'ERR_HEADER_MISMATCH', 'hardware-id-key-sha3-384', 'hardware id key does not match provided hash'],
    ['with a hardware-id-key-sha3-384 of "~"', /^hardware-id-key-sha3-384:/, 'hardware-id-key-sha3-384: ~', 'ERR_HEADER_MISMATCH', 'hardware-id-key-sha3-384', 'hardware id key does not match provided hash'],
    // Beyond snapd's table: what OpenSSL parses but Go's x509.ParsePKIXPublicKey refuses.
    ['with trailing bytes after the key', key(), () => `hardware-id-key: ${Buffer.concat([ec.publicKey.export({ type: 'spki', format: 'der' }), Buffer.from([0])]).toString('base64')}`, 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: '],
    ['with a length not in its shortest form', key(), () => `hardware-id-key: ${Buffer.concat([Buffer.from([0x30, 0x81]), ec.publicKey.export({ type: 'spki', format: 'der' }).subarray(1)]).toString('base64')}`, 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: not a DER SubjectPublicKeyInfo'],
    ['with a compressed EC point', key(), () => `hardware-id-key: ${compressed(ec.publicKey)}`, 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: '],
    ['with an Ed448 key', key(), () => `hardware-id-key: ${spki(generateKeyPairSync('ed448').publicKey)}`, 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: unsupported public key algorithm'],
    ['with a secp256k1 key', key(), () => `hardware-id-key: ${spki(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey)}`, 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: unsupported elliptic curve'],
    ['with an RSA key without its NULL parameters', key(), () => `hardware-id-key: ${withoutRsaNull(rsa.publicKey)}`, 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: RSA key missing NULL parameters'],
    ['with an EC point not on the curve', key(), () => `hardware-id-key: ${offCurve(ec.publicKey)}`, 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key', 'cannot parse public key: '],
  ];
  it.each(cases)('refuses it %s', (_, find, replace, code, header, message) => {
    const err = refusal(mutate(text, find, typeof replace === 'string' ? replace : replace()));
    expect({ code: err.code, header: err.header }).toEqual({ code, header });
    expect(err.message).toContain(message);
  });
});

/** DER: a tag, the length in its shortest form, the value. */
const tlv = (tag: number, value: Buffer) => {
  const n = value.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), value]);
};

/** An RSA SubjectPublicKeyInfo whose algorithm has no parameters, which OpenSSL reads and Go refuses. */
function withoutRsaNull(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  const bits = der.subarray(der.indexOf(Buffer.from('0500', 'hex')) + 2);
  return tlv(0x30, Buffer.concat([tlv(0x30, tlv(0x06, Buffer.from('2a864886f70d010101', 'hex'))), bits])).toString('base64');
}

/** A P-256 SubjectPublicKeyInfo with its point moved off the curve. */
function offCurve(key: KeyObject): string {
  const der = Buffer.from(key.export({ type: 'spki', format: 'der' }));
  der[der.length - 1] = (der[der.length - 1] as number) ^ 1;
  return der.toString('base64');
}

/** The P-256 point of `key` in compressed form, in a SubjectPublicKeyInfo. */
function compressed(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  const point = der.subarray(der.length - 65);
  const prefix = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex');
  return Buffer.concat([prefix, Buffer.from([0x02 + ((point[64] as number) & 1)]), point.subarray(1, 33)]).toString('base64');
}

describe('the request-id signature', () => {
  const requestId = 'REQ-2a6f1d0c9b';
  let ecIdentity: HardwareIdentityView;
  let rsaIdentity: HardwareIdentityView;
  beforeAll(async () => {
    ecIdentity = (await identity(ec.publicKey)).view;
    rsaIdentity = (await identity(rsa.publicKey)).view;
  });
  const signed = (hashName: string, key: KeyObject, id = requestId, dsaEncoding: 'der' | 'ieee-p1363' = 'der') => sign(hashName, Buffer.from(id), key.asymmetricKeyType === 'ec' ? { key, dsaEncoding } : key);

  it.each(['sha256', 'sha384', 'sha512', 'sha3-384'])('verifies an RSA PKCS#1 v1.5 signature with %s', (h) => {
    expect(verifyRequestIdSignature(rsaIdentity, requestId, signed(h, rsa.privateKey))).toBe(true);
  });

  it.each(['sha256', 'sha384', 'sha512', 'sha3-384'])('verifies an ECDSA P-256 signature with %s', (h) => {
    expect(verifyRequestIdSignature(ecIdentity, requestId, signed(h, ec.privateKey))).toBe(true);
  });

  it('refuses a signature of another request-id', () => {
    expect(verifyRequestIdSignature(ecIdentity, requestId, signed('sha256', ec.privateKey, 'REQ-other'))).toBe(false);
    expect(verifyRequestIdSignature(rsaIdentity, requestId, signed('sha256', rsa.privateKey, 'REQ-other'))).toBe(false);
  });

  it('refuses a signature by another key', () => {
    expect(verifyRequestIdSignature(ecIdentity, requestId, signed('sha256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey))).toBe(false);
    expect(verifyRequestIdSignature(rsaIdentity, requestId, signed('sha256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey))).toBe(false);
    expect(verifyRequestIdSignature(ecIdentity, requestId, signed('sha256', rsa.privateKey))).toBe(false);
  });

  it('refuses trailing bytes, as snapd does, and ECDSA not in DER', () => {
    expect(verifyRequestIdSignature(rsaIdentity, requestId, Buffer.concat([signed('sha256', rsa.privateKey), Buffer.from([0])]))).toBe(false);
    expect(verifyRequestIdSignature(ecIdentity, requestId, Buffer.concat([signed('sha256', ec.privateKey), Buffer.from([0])]))).toBe(false);
    expect(verifyRequestIdSignature(ecIdentity, requestId, signed('sha256', ec.privateKey, requestId, 'ieee-p1363'))).toBe(false);
    expect(verifyRequestIdSignature(ecIdentity, requestId, Buffer.alloc(0))).toBe(false);
  });

  it('proves nothing with a kind of key snapd cannot verify (Ed25519)', async () => {
    const ed = generateKeyPairSync('ed25519');
    const v = (await identity(ed.publicKey)).view;
    expect(verifyRequestIdSignature(v, requestId, sign(null, Buffer.from(requestId), ed.privateKey))).toBe(false);
  });
});

describe('the hardware proof in a serial-request body', () => {
  const digest = hardwareKeyDigest(spki(ec.publicKey));
  const signature = Buffer.from(Array.from({ length: 70 }, (_, i) => (i * 37 + 11) & 0xff));
  const body = (fields: unknown) => Buffer.from(JSON.stringify(fields));
  const refused = (fields: unknown) => {
    try {
      readHardwareBody(body(fields));
    } catch (e) {
      if (e instanceof AssertionError) return e.code;
      throw e;
    }
    throw new Error('expected a refusal');
  };

  it("reads Canonical's spelling and snapd's, with the signature in standard base64", () => {
    expect(readHardwareBody(body({ 'hardware-id-key-sha3-384': digest, 'request-id-signature': signature.toString('base64') }))).toEqual({ keyDigest: digest, signature });
    expect(readHardwareBody(body({ 'hardware-id-key-sha384': digest, 'request-id-signature': signature.toString('base64') }))).toEqual({ keyDigest: digest, signature });
    expect(readHardwareBody(body({ 'hardware-id-key-sha384': digest, 'hardware-id-key-sha3-384': digest, 'request-id-signature': signature.toString('base64'), serial: 'extra fields are kept for later' }))?.keyDigest).toBe(digest);
  });

  it('takes the signature unpadded, URL-safe, or wrapped in lines', () => {
    const read = (s: string) => readHardwareBody(body({ 'hardware-id-key-sha3-384': digest, 'request-id-signature': s }))?.signature;
    expect(read(signature.toString('base64').replace(/=+$/, ''))).toEqual(signature);
    expect(read(signature.toString('base64url'))).toEqual(signature);
    expect(read(`${signature.toString('base64url')}==`.slice(0, Math.ceil(signature.length / 3) * 4))).toEqual(signature);
    expect(read(signature.toString('base64').match(/.{1,20}/g)!.join('\n'))).toEqual(signature);
  });

  it('is absent when the body is not a JSON object with both fields', () => {
    expect(readHardwareBody(undefined)).toBeUndefined();
    expect(readHardwareBody(Buffer.from('hardware details, as bodies used to be'))).toBeUndefined();
    expect(readHardwareBody(body([digest]))).toBeUndefined();
    expect(readHardwareBody(body(null))).toBeUndefined();
    expect(readHardwareBody(body({ 'hardware-id-key-sha3-384': digest }))).toBeUndefined();
    expect(readHardwareBody(body({ 'request-id-signature': 'AAAA' }))).toBeUndefined();
  });

  it('refuses fields that are there but malformed', () => {
    const sig = signature.toString('base64');
    expect(refused({ 'hardware-id-key-sha3-384': digest.slice(1), 'request-id-signature': sig })).toBe('ERR_HEADER_INVALID');
    expect(refused({ 'hardware-id-key-sha3-384': 42, 'request-id-signature': sig })).toBe('ERR_HEADER_INVALID');
    expect(refused({ 'hardware-id-key-sha3-384': digest, 'hardware-id-key-sha384': hardwareKeyDigest('another key'), 'request-id-signature': sig })).toBe('ERR_HEADER_MISMATCH');
    expect(refused({ 'hardware-id-key-sha3-384': digest, 'request-id-signature': 42 })).toBe('ERR_HEADER_INVALID');
    expect(refused({ 'hardware-id-key-sha3-384': digest, 'request-id-signature': '' })).toBe('ERR_HEADER_INVALID');
    expect(refused({ 'hardware-id-key-sha3-384': digest, 'request-id-signature': 'ab+c-d' })).toBe('ERR_HEADER_INVALID');
    expect(refused({ 'hardware-id-key-sha3-384': digest, 'request-id-signature': 'abcde' })).toBe('ERR_HEADER_INVALID');
    expect(refused({ 'hardware-id-key-sha3-384': digest, 'request-id-signature': 'not base64!' })).toBe('ERR_HEADER_INVALID');
  });
});
