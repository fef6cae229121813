import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AssertionError,
  NodeSigner,
  PublicKey,
  TrustDatabase,
  decodeAssertion,
  decodeSignature,
  isCanonical,
  signAssertion,
  signContent,
  signingDigest,
  type Assertion,
  type HeaderValue,
} from '../../src/assertions/index.js';
import { decodeVector, generatedKey, generatedKeys, headersInput, readVector, roots, vectorFiles } from '../support/vectors.js';

const keys = generatedKeys();

/** A signature in snapd's own form: SHA-512, binary, one creation-time subpacket, nothing unhashed. */
function isSnapdForm(a: Assertion): boolean {
  const sig = a.signaturePacket;
  return sig.hashAlgorithm === 10 && sig.sigType === 0 && sig.hashedPart.length === 12;
}

/** Signature text laid out as snapd writes it (the variants change only the layout). */
const SNAPD_LAYOUT = (a: Assertion) => /^(?:[A-Za-z0-9+/=]{76}\n)*[A-Za-z0-9+/=]{1,76}\n$/.test(a.signature.toString());

/** The raw signature packet, whatever its base64 line layout. */
const packetBytes = (a: Assertion) => Buffer.from(a.signature.toString('latin1').replace(/\n/g, ''), 'base64');

const signedByGeneratedKey = vectorFiles()
  .filter((f) => f.startsWith('generated/') && !f.includes('/negative/'))
  .flatMap((file) => decodeVector(file).map((a, index) => ({ file, index, a })))
  .filter(({ a }) => keys.has(a.signKeyId) && isSnapdForm(a));

describe('re-signing the generated vectors gives snapd bytes', () => {
  it('finds vectors to re-sign', () => {
    expect(signedByGeneratedKey.length).toBeGreaterThan(20);
  });

  it.each(signedByGeneratedKey.map(({ file, index, a }) => ({ name: `${file}#${index}`, a })))(
    '$name',
    async ({ a }) => {
      const signer = new NodeSigner(keys.get(a.signKeyId)!.privateKey);
      // The signature over the exact content received is snapd's, packet for packet.
      const signature = await signContent(a.content, signer, a.signedAt);
      expect(Buffer.from(signature.replace(/\n/g, ''), 'base64').equals(packetBytes(a))).toBe(true);
      if (!isCanonical(a)) return;
      // From decoded headers and body, the whole assertion comes out as snapd wrote it,
      // except that snapd's signing leaves out an optional primary key given at its default.
      const headers = { ...(a.headers as Record<string, HeaderValue>) };
      const atDefault = Object.entries(a.spec.primaryKeyDefaults ?? {}).filter(([k, v]) => headers[k] === v);
      for (const [k] of atDefault) delete headers[k];
      const resigned = await signAssertion(headers, a.body, signer, { signedAt: a.signedAt });
      expect(resigned.content.equals(a.content)).toBe(true);
      if (SNAPD_LAYOUT(a)) expect(resigned.encode().equals(a.encode())).toBe(true);
    },
  );
});

describe('signing from header inputs', () => {
  it('signs serial-uc16.json into exactly uc16.serial', async () => {
    const expected = decodeAssertion(readVector('generated/uc16.serial'));
    const signed = await signAssertion(headersInput('serial-uc16.json'), expected.body, new NodeSigner(generatedKey('brand').privateKey), {
      signedAt: expected.signedAt,
    });
    expect(signed.encode().equals(readVector('generated/uc16.serial'))).toBe(true);
  });

  it.each([
    ['test-hello.snap-revision.json', 'generated/store/test-hello_1.snap-revision', 'root'],
    ['test-prov.snap-revision.json', 'generated/store/test-prov_1.snap-revision', 'brand'],
    ['test-hello.snap-declaration.json', 'generated/store/test-hello.snap-declaration', 'root'],
    ['test-store.store.json', 'generated/store/test-store.store', 'root'],
  ])('signs store/%s into exactly %s', async (input, file, key) => {
    const expected = decodeAssertion(readVector(file));
    const signed = await signAssertion(headersInput(`../store/headers/${input}`), expected.body, new NodeSigner(generatedKey(key).privateKey), {
      signedAt: expected.signedAt,
    });
    expect(signed.encode().toString()).toBe(readVector(file).toString());
  });

  it('puts a left-out provenance among the sorted headers, and leaves out one given at its default, as snapd does', async () => {
    const input = headersInput('../store/headers/test-hello.snap-revision.json');
    const signer = new NodeSigner(generatedKey('root').privateKey);
    const signedAt = new Date('2024-01-05T00:00:00Z');
    const implicit = await signAssertion(input, undefined, signer, { signedAt });
    expect(implicit.content.toString()).toMatch(/\ndeveloper-id: test-brand\nprovenance: global-upload\nsnap-id: /);
    const explicit = await signAssertion({ ...input, provenance: 'global-upload' }, undefined, signer, { signedAt });
    expect(explicit.content.toString()).not.toContain('provenance');
    expect(explicit.view).toMatchObject({ provenance: 'global-upload' });
    const other = await signAssertion({ ...input, provenance: 'my-prov' }, undefined, signer, { signedAt });
    expect(other.content.toString()).toMatch(/^type: snap-revision\nauthority-id: test-root\nsnap-sha3-384: \S+\nprovenance: my-prov\n/);
  });

  it('omits empty lists and maps and sorts map keys', async () => {
    const signed = await signAssertion(headersInput('nested-headers.json'), Buffer.from('x'), new NodeSigner(generatedKey('brand').privateKey), {
      signedAt: new Date('2024-01-03T00:00:00Z'),
    });
    const text = signed.content.toString();
    expect(text).not.toContain('empty-list');
    expect(text).toMatch(/x-map:\n {2}a: 1\n {2}b:\n {4}- p/);
  });

  it('refuses to sign what would not decode, before asking the signer', async () => {
    let asked = false;
    const signer = { publicKey: generatedKey('brand').encoded ? PublicKey.decode(generatedKey('brand').encoded) : undefined!, signDigest: async () => ((asked = true), new Uint8Array()) };
    const headers = { ...headersInput('serial-uc16.json'), model: 'Bad_Model' };
    await expect(signAssertion(headers, undefined, signer)).rejects.toMatchObject({ code: 'ERR_HEADER_INVALID', header: 'model' });
    expect(asked).toBe(false);
  });

  it('refuses unknown types', async () => {
    await expect(
      signAssertion({ type: 'no-such-type', 'authority-id': 'x' }, undefined, new NodeSigner(generatedKey('brand').privateKey)),
    ).rejects.toMatchObject({ code: 'ERR_TYPE_UNKNOWN' });
  });

  it('refuses signing keys under 4096 bits', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expect(signAssertion(headersInput('serial-uc16.json'), undefined, new NodeSigner(privateKey))).rejects.toMatchObject({
      code: 'ERR_PUBLIC_KEY_INVALID',
    });
  });

  it('reports a failing signer as ERR_SIGNER_FAILED', async () => {
    const signer = {
      publicKey: PublicKey.decode(generatedKey('brand').encoded),
      signDigest: async () => {
        throw new Error('token went away');
      },
    };
    const err = await signAssertion(headersInput('serial-uc16.json'), undefined, signer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AssertionError);
    expect(err).toMatchObject({ code: 'ERR_SIGNER_FAILED', message: 'cannot sign: token went away' });
  });
});

describe('signatures', () => {
  it('hands the signer the SHA-512 digest of content and snapd hashed part', async () => {
    const a = decodeAssertion(readVector('generated/uc16.serial'));
    const { digest } = signingDigest(a.content, a.signaturePacket.created);
    let seen: Uint8Array | undefined;
    const inner = new NodeSigner(generatedKey('brand').privateKey);
    await signAssertion(a.headers as Record<string, HeaderValue>, a.body, {
      publicKey: inner.publicKey,
      signDigest: (d) => ((seen = d), inner.signDigest(d)),
    }, { signedAt: a.signedAt });
    expect(Buffer.from(seen!).equals(digest)).toBe(true);
    expect(digest.subarray(0, 2).equals(a.signaturePacket.left16)).toBe(true);
  });

  it('a freshly signed serial verifies against the brand chain', async () => {
    const signed = await signAssertion(
      { ...headersInput('serial-uc16.json'), serial: 'FRESH-1' },
      Buffer.from('hello'),
      new NodeSigner(generatedKey('brand').privateKey),
      { signedAt: new Date('2024-06-01T00:00:00Z') },
    );
    const db = new TrustDatabase({ trusted: roots('generated/root.trusted.assert') });
    const results = db.addBatch([...decodeVector('generated/brand-chain.assert'), signed]);
    expect(results.map((r) => r.error?.message)).toEqual([undefined, undefined, undefined]);
    expect(decodeSignature(signed.signature).created).toBe(Date.parse('2024-06-01T00:00:00Z') / 1000);
  });

  it('public keys re-encode to snapd encoding and ids', () => {
    for (const key of keys.values()) {
      const pub = PublicKey.fromKeyObject(key.privateKey);
      expect(pub.encoded).toBe(key.encoded);
      expect(pub.id).toBe(key.keyId);
      expect(PublicKey.decode(key.encoded).id).toBe(key.keyId);
    }
  });
});
