/**
 * npm run bench:codec: how much the codec costs on top of the RSA
 * verification it cannot avoid. Prints decode+verify and encode+sign rates
 * for a serial, the raw crypto.verify rate with the same key in the same
 * run, and a RESULT line with their ratio (goal ≥ 0.8).
 */
import { verify } from 'node:crypto';
import {
  NodeSigner,
  TrustDatabase,
  decodeAssertion,
  signAssertion,
  type HeaderValue,
} from '../../src/assertions/index.js';
import { HASHES, hashTrailer } from '../../src/assertions/openpgp.js';
import { decodeVector, generatedKey, readVector, roots } from '../support/vectors.js';
import { fmt, interleavedRates, rate } from './measure.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);

const serialBytes = readVector('generated/uc16.serial');
const db = new TrustDatabase({ trusted: roots('generated/root.trusted.assert') });
db.addBatch(decodeVector('generated/brand-chain.assert'));
const brand = generatedKey('brand');
const signer = new NodeSigner(brand.privateKey);

// The same work crypto.verify does inside decode+verify: the same key, data and signature.
const sample = decodeAssertion(serialBytes);
const publicKey = signer.publicKey.toKeyObject();
const signedData = Buffer.concat([sample.content, sample.signaturePacket.hashedPart, hashTrailer(sample.signaturePacket.hashedPart)]);
const signature = sample.signaturePacket.signature.bytes;
const hash = HASHES[sample.signaturePacket.hashAlgorithm] as string;
if (!verify(hash, signedData, publicKey, signature)) throw new Error('bench set-up: the sample does not verify');

const headers = sample.headers as Record<string, HeaderValue>;
let n = 0;

console.log(`codec benchmark: RSA-${signer.publicKey.bits} serial, ${SECONDS} s per figure, node ${process.version}`);
// Alternating rounds, medians: both figures see the same machine.
const { rawVerify, decodeVerify } = (await interleavedRates(
  {
    rawVerify: () => verify(hash, signedData, publicKey, signature),
    decodeVerify: () => {
      const r = db.check(decodeAssertion(serialBytes));
      if (!r.ok) throw r.error;
    },
  },
  2 * SECONDS,
  7,
)) as { rawVerify: number; decodeVerify: number };
console.log(`raw crypto.verify:        ${fmt(rawVerify)} verifications/s`);
console.log(`decode+verify serial:     ${fmt(decodeVerify)} serials/s`);
const encodeSign = await rate(
  () => signAssertion({ ...headers, serial: `BENCH-${n++}` }, sample.body, signer, { signedAt: sample.signedAt }),
  SECONDS,
);
console.log(`encode+sign serial:       ${fmt(encodeSign)} serials/s (Node crypto, single thread)`);
console.log(`RESULT verify_ratio=${fmt(decodeVerify / rawVerify, 3)}`);
