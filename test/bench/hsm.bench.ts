/**
 * npm run bench:hsm: signatures per second through the keystore with 1, 2
 * and 4 signer threads on a throwaway SoftHSM2 token, measured in the same
 * run as a raw synchronous pkcs11js loop on the same token and
 * `openssl speed -multi <cores> rsa4096` (software RSA on every core: what
 * this machine can do at most). Also the event-loop delay p99 while signing.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import pkcs11js from 'pkcs11js';
import { Pkcs11KeyStore } from '../../src/keystore/pkcs11/keystore.js';
import { sha512DigestInfo } from '../../src/assertions/index.js';
import { cleanupSoftHsm, createTestToken, softhsmRoot } from '../support/softhsm.js';
import { withTokenSession } from '../support/token-import.js';
import { concurrentRate, fmt, loopDelay, timedRate } from './measure.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const cores = availableParallelism();

softhsmRoot();
const token = createTestToken('bench');
const digest = createHash('sha512').update('bench').digest();

console.log(`HSM benchmark: SoftHSM2, RSA-4096, ${cores} cores, about ${SECONDS} s per figure, node ${process.version}`);

// Software RSA on every core: the ceiling for any signer on this machine.
const speed = execFileSync('openssl', ['speed', '-multi', String(cores), '-seconds', String(SECONDS), 'rsa4096'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'ignore'],
});
const opensslRate = Number(/^rsa 4096 bits\s+\S+\s+\S+\s+([\d.]+)/m.exec(speed)?.[1]);
if (!Number.isFinite(opensslRate)) throw new Error(`cannot read openssl speed output:\n${speed}`);
console.log(`openssl speed -multi ${cores} rsa4096:   ${fmt(opensslRate)} signs/s`);

const setup = await Pkcs11KeyStore.open({ uri: token.uri, signers: 1 });
await setup.generate('bench');
await setup.close();

// A raw synchronous loop on the same token: one session, blocking the event loop.
const rawRate = await withTokenSession(token, (p11, session) => {
  p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }]);
  const [key] = p11.C_FindObjects(session, 1);
  p11.C_FindObjectsFinal(session);
  const data = sha512DigestInfo(digest);
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < end) {
    p11.C_SignInit(session, { mechanism: pkcs11js.CKM_RSA_PKCS }, key!);
    p11.C_Sign(session, data, Buffer.alloc(512));
    n++;
  }
  return n / ((performance.now() - start) / 1000);
});
console.log(`raw pkcs11js C_Sign loop (sync):    ${fmt(rawRate)} signs/s`);

let best = 0;
let bestP99 = 0;
for (const signers of [1, 2, 4]) {
  const store = await Pkcs11KeyStore.open({ uri: token.uri, signers, maxQueue: 1024 });
  await store.find('bench');
  await concurrentRate(() => store.signDigest('bench', digest), 100 * signers, 4 * signers); // warm-up: JIT, sessions, key handles
  const delay = loopDelay();
  const rate = await timedRate(() => store.signDigest('bench', digest), SECONDS, 4 * signers);
  const { p99 } = delay.stop();
  await store.close();
  console.log(`keystore, ${signers} signer${signers > 1 ? 's' : ' '}:              ${fmt(rate)} signs/s, event-loop delay p99 ${fmt(p99, 2)} ms`);
  if (rate > best) {
    best = rate;
    bestP99 = p99;
  }
}

cleanupSoftHsm();
console.log(`RESULT keystore_ratio=${fmt(best / opensslRate, 3)} loop_p99_ms=${fmt(bestP99, 2)}`);
