import { constants, createHash, privateEncrypt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AssertionError, PublicKey, TrustDatabase, decodeAssertion, type Assertion } from '../../src/assertions/index.js';
import { encodeBase64Lines } from '../../src/assertions/base64.js';
import { decodeVector, generatedKey, readVector, roots } from '../support/vectors.js';

/**
 * The signature forms snapd's verifier (asserts/crypto.go over Go's
 * x/crypto/openpgp/packet) accepts and refuses, each built by hand from one
 * good serial and checked against the verdict Go's code gives. The vectors
 * made by snapd itself (`variants/hash-sha1.serial`, `sigtype-text-raw.serial`,
 * …) run in vectors.test.ts; these cover the rest of the same rules.
 */

const brand = generatedKey('brand');
const good = decodeAssertion(readVector('generated/uc16.serial'));
const PREFIX: Record<number, [string, string]> = {
  1: ['md5', '3020300c06082a864886f70d020505000410'],
  2: ['sha1', '3021300906052b0e03021a05000414'],
  8: ['sha256', '3031300d060960864801650304020105000420'],
  10: ['sha512', '3051300d060960864801650304020305000440'],
};

const sub = (type: number, data: Buffer) => Buffer.concat([Buffer.from([data.length + 1, type]), data]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const creation = sub(2, u32(Math.floor(good.signedAt.getTime() / 1000)));

interface Form {
  hash?: number;
  sigType?: number;
  algorithm?: number;
  hashed?: Buffer;
  unhashed?: Buffer;
  badTag?: boolean;
  /** Changes the RSA signature bytes before they become the MPI. */
  mpi?: (sig: Buffer) => Buffer;
  header?: 'new' | 'old2' | 'old-indeterminate' | 'partial';
  inside?: Buffer;
  after?: Buffer;
}

function signatureText(form: Form, content = good.content): string {
  const hash = form.hash ?? 10;
  const [name, prefix] = PREFIX[hash] as [string, string];
  const hashed = form.hashed ?? creation;
  const head = Buffer.from([4, form.sigType ?? 0, form.algorithm ?? 1, hash, hashed.length >> 8, hashed.length & 0xff]);
  const hashedPart = Buffer.concat([head, hashed]);
  const trailer = Buffer.concat([Buffer.from([4, 0xff]), u32(hashedPart.length)]);
  const digest = createHash(name).update(content).update(hashedPart).update(trailer).digest();
  const rsa = privateEncrypt(
    { key: brand.privateKey, padding: constants.RSA_PKCS1_PADDING },
    Buffer.concat([Buffer.from(prefix, 'hex'), digest]),
  );
  const sig = form.mpi ? form.mpi(rsa) : rsa;
  const unhashed = form.unhashed ?? Buffer.alloc(0);
  const left16 = form.badTag ? Buffer.from([digest[0]! ^ 0xff, digest[1]!]) : digest.subarray(0, 2);
  const mpiBits = Buffer.alloc(2);
  mpiBits.writeUInt16BE(sig.length * 8);
  const body = Buffer.concat([
    hashedPart,
    Buffer.from([unhashed.length >> 8, unhashed.length & 0xff]),
    unhashed,
    left16,
    mpiBits,
    sig,
    form.inside ?? Buffer.alloc(0),
  ]);
  let packet: Buffer;
  switch (form.header ?? 'new') {
    case 'old2':
      packet = Buffer.concat([Buffer.from([0x80 | (2 << 2) | 1, body.length >> 8, body.length & 0xff]), body]);
      break;
    case 'old-indeterminate':
      packet = Buffer.concat([Buffer.from([0x80 | (2 << 2) | 3]), body]);
      break;
    case 'partial': {
      // A first partial chunk of 512 bytes (0xE9 = 224 + 9), then a one-byte definite length for the rest.
      if (body.length - 512 >= 192) throw new Error('test set-up: the rest must fit a one-byte length');
      const rest = body.subarray(512);
      packet = Buffer.concat([Buffer.from([0xc2, 0xe9]), body.subarray(0, 512), Buffer.from([rest.length]), rest]);
      break;
    }
    default:
      packet = Buffer.concat([Buffer.from([0xc2, 192 + ((body.length - 192) >> 8), (body.length - 192) & 0xff]), body]);
  }
  const raw = Buffer.concat([Buffer.from([1]), packet, form.after ?? Buffer.alloc(0)]);
  return `${encodeBase64Lines(raw).join('\n')}\n`;
}

function verdict(form: Form): 'ok' | string {
  let a: Assertion;
  try {
    a = decodeAssertion(Buffer.concat([good.content, Buffer.from('\n\n'), Buffer.from(signatureText(form))]));
  } catch (e) {
    if (e instanceof AssertionError) return e.code;
    throw e;
  }
  const db = new TrustDatabase({ trusted: roots('generated/root.trusted.assert') });
  for (const r of db.addBatch([...decodeVector('generated/brand-chain.assert'), decodeVector('generated/uc16.model')[0]!])) {
    if (r.error) throw r.error;
  }
  const result = db.check(a);
  return result.ok ? 'ok' : result.error.code;
}

describe('signatures snapd accepts, and so do we', () => {
  it.each<[string, Form]>([
    ['snapd’s own form, rebuilt by hand (the control)', {}],
    ['SHA-1, which snapd hashes with as named', { hash: 2 }],
    ['MD5, which snapd’s binary links and verifies', { hash: 1 }],
    ['SHA-256', { hash: 8 }],
    ['any signature type, content hashed as it is (0x01 text, 0x13 certification)', { sigType: 0x13 }],
    ['an issuer subpacket in the unhashed area', { unhashed: sub(16, Buffer.alloc(8, 7)) }],
    ['an unknown subpacket not marked critical', { hashed: Buffer.concat([creation, sub(99, Buffer.from('x'))]) }],
    ['a critical subpacket Go knows (key flags)', { hashed: Buffer.concat([creation, sub(0x80 | 27, Buffer.from([3]))]) }],
    ['a signature integer shorter than the modulus, left-padded as Go does', { mpi: (s) => (s[0] === 0 ? s.subarray(1) : s) }],
    ['an old-format packet header', { header: 'old2' }],
    ['an old-format indeterminate length', { header: 'old-indeterminate' }],
    ['partial body lengths', { header: 'partial' }],
    ['bytes inside the packet after the signature, which Go’s buffered read swallows', { inside: Buffer.from([1, 2, 3]) }],
  ])('%s', (_, form) => {
    expect(verdict(form)).toBe('ok');
  });
});

describe('signatures snapd refuses, and so do we', () => {
  it.each<[string, Form, string]>([
    ['a hash tag that does not match the digest', { badTag: true }, 'ERR_SIGNATURE_INVALID'],
    ['the RSA sign-only algorithm id (snapd’s keys are always RSA, id 1)', { algorithm: 3 }, 'ERR_SIGNATURE_INVALID'],
    ['a signature integer longer than the modulus', { mpi: (s) => Buffer.concat([Buffer.from([0]), s]) }, 'ERR_SIGNATURE_INVALID'],
    ['an unknown critical subpacket', { hashed: Buffer.concat([creation, sub(0x80 | 99, Buffer.from('x'))]) }, 'ERR_SIGNATURE_UNSUPPORTED'],
    ['a critical issuer fingerprint, unknown to Go’s parser', { hashed: Buffer.concat([creation, sub(0x80 | 33, Buffer.alloc(21))]) }, 'ERR_SIGNATURE_UNSUPPORTED'],
    ['the creation time in the unhashed area', { hashed: Buffer.alloc(0), unhashed: creation }, 'ERR_SIGNATURE_MALFORMED'],
    ['no creation time', { hashed: sub(16, Buffer.alloc(8)) }, 'ERR_SIGNATURE_MALFORMED'],
    ['an issuer subpacket of the wrong size', { hashed: Buffer.concat([creation, sub(16, Buffer.alloc(4))]) }, 'ERR_SIGNATURE_MALFORMED'],
    ['bytes after the packet', { after: Buffer.from([0]) }, 'ERR_SIGNATURE_MALFORMED'],
  ])('%s', (_, form, code) => {
    expect(verdict(form)).toBe(code);
  });

  it('RIPEMD-160, which parses in Go but is not linked into snapd', () => {
    const text = signatureText({});
    const raw = Buffer.from(text.replace(/\n/g, ''), 'base64');
    raw[1 + 3 + 3] = 3; // format byte, 3-byte header, version, type, algorithm, then the hash id
    const forged = `${encodeBase64Lines(raw).join('\n')}\n`;
    expect(() => decodeAssertion(Buffer.concat([good.content, Buffer.from('\n\n'), Buffer.from(forged)]))).toThrow(
      expect.objectContaining({ code: 'ERR_SIGNATURE_UNSUPPORTED' }),
    );
  });
});

describe('public keys as snapd decodes them', () => {
  const encoded = PublicKey.fromKeyObject(brand.privateKey).encoded;
  const raw = Buffer.from(encoded.replace(/\n/g, ''), 'base64');

  it('keeps only the modulus and exponent: another creation time, algorithm or tag gives the same key id', () => {
    const variant = Buffer.from(raw);
    variant[1] = 0xc0 | 14; // public subkey
    variant.writeUInt32BE(12345, 1 + 3 + 1); // creation time
    variant[1 + 3 + 5] = 3; // RSA sign-only
    expect(PublicKey.decode(encodeBase64Lines(variant).join('\n')).id).toBe(PublicKey.decode(encoded).id);
  });

  it('refuses a public exponent longer than three bytes, as Go does', () => {
    const key = PublicKey.decode(encoded);
    expect(key.bits).toBe(4096);
    const n = raw.subarray(1 + 3 + 6 + 2, 1 + 3 + 6 + 2 + 512);
    const body = Buffer.concat([raw.subarray(1 + 3, 1 + 3 + 6), Buffer.from([0x10, 0x00]), n, Buffer.from([0, 32, 1, 0, 0, 1])]);
    const packet = Buffer.concat([Buffer.from([0xc6, 192 + ((body.length - 192) >> 8), (body.length - 192) & 0xff]), body]);
    expect(() => PublicKey.decode(encodeBase64Lines(Buffer.concat([Buffer.from([1]), packet])).join('\n'))).toThrow(/large public exponent/);
  });
});
