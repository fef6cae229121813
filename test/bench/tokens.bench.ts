/**
 * npm run bench:tokens: signatures per second through a TokenSetKeyStore
 * with one SoftHSM2 token and with two (an RSA-4096 key on each, calls
 * spread over the keys as provisioning spreads a model's serial keys), in
 * alternating rounds so a slow moment of a shared machine does not land on
 * one figure only. Twice: with the production default of signer threads per
 * token, and with one per token, where each token signs one request at a
 * time as a hardware HSM's session does. SoftHSM2 signs on this machine's
 * cores, so with the default threads a second token adds sessions, not
 * signing power; the CPU line says how busy the cores were.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { DEFAULT_SIGNERS, Pkcs11KeyStore } from '../../src/keystore/pkcs11/keystore.js';
import { IN_FLIGHT_PER_SIGNER } from '../../src/keystore/pkcs11/pool.js';
import { TokenSetKeyStore } from '../../src/keystore/token-set.js';
import { cleanupSoftHsm, createTestToken, softhsmRoot, type TestToken } from '../support/softhsm.js';
import { concurrentRate, fmt, timedRate } from './measure.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 6);
const ROUNDS = 3;
const cores = availableParallelism();
const digest = createHash('sha512').update('tokens').digest();

softhsmRoot();
const tokens = [createTestToken('bench-t1'), createTestToken('bench-t2')];

// One key per token, made once.
for (const [i, token] of tokens.entries()) {
  const setup = await Pkcs11KeyStore.open({ uri: token.uri, signers: 1 });
  await setup.generate(`bench-${i + 1}`);
  await setup.close();
}

interface Figure {
  readonly rate: number;
  /** Cores busy on average, all threads of this process. */
  readonly cores: number;
}

/** The set over the first `n` tokens, and a signing call that takes their keys in turn. */
async function openSet(n: number, signers: number) {
  const members = tokens.slice(0, n).map((t: TestToken) => ({
    label: t.label,
    open: () => Pkcs11KeyStore.open({ uri: t.uri, signers, maxQueue: 1024 }),
  }));
  const store = await TokenSetKeyStore.open(members);
  const labels = tokens.slice(0, n).map((_, i) => `bench-${i + 1}`);
  let turn = 0;
  const sign = () => store.signDigest(labels[turn++ % labels.length] as string, digest);
  // Enough in flight to keep every signer's queue full: the rate is the tokens', not the callers'.
  const concurrency = 4 * IN_FLIGHT_PER_SIGNER * signers * n;
  await concurrentRate(sign, 50 * signers * n, concurrency); // warm-up: JIT, sessions, key handles
  return { store, sign, concurrency };
}

async function measure(n: number, signers: number, seconds: number): Promise<Figure> {
  const { store, sign, concurrency } = await openSet(n, signers);
  try {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const rate = await timedRate(sign, seconds, concurrency);
    const used = process.cpuUsage(cpu);
    return { rate, cores: (used.user + used.system) / 1000 / (performance.now() - start) };
  } finally {
    await store.close();
  }
}

/** One token and two, in alternating rounds; each figure is the median of its rounds. */
async function compare(signers: number): Promise<{ one: Figure; two: Figure }> {
  const rounds: { one: Figure[]; two: Figure[] } = { one: [], two: [] };
  for (let r = 0; r < ROUNDS; r++) {
    rounds.one.push(await measure(1, signers, SECONDS / ROUNDS));
    rounds.two.push(await measure(2, signers, SECONDS / ROUNDS));
  }
  const median = (xs: Figure[]) => [...xs].sort((a, b) => a.rate - b.rate)[Math.floor(xs.length / 2)] as Figure;
  return { one: median(rounds.one), two: median(rounds.two) };
}

console.log(`token-set benchmark: SoftHSM2, RSA-4096, 1 and 2 tokens, ${cores} cores, about ${SECONDS} s per figure in ${ROUNDS} rounds, node ${process.version}`);
const line = (what: string, f: Figure) => console.log(`${what.padEnd(36)} ${fmt(f.rate).padStart(7)} signs/s, ${fmt(f.cores, 2)} cores busy`);

const byDefault = await compare(DEFAULT_SIGNERS);
line(`1 token,  ${DEFAULT_SIGNERS} signers per token:`, byDefault.one);
line(`2 tokens, ${DEFAULT_SIGNERS} signers per token:`, byDefault.two);
const single = await compare(1);
line('1 token,  1 signer per token:', single.one);
line('2 tokens, 1 signer per token:', single.two);

cleanupSoftHsm();
console.log(
  `RESULT tokens1_sig_per_s=${fmt(byDefault.one.rate)} tokens2_sig_per_s=${fmt(byDefault.two.rate)} ratio=${fmt(byDefault.two.rate / byDefault.one.rate, 3)} ` +
    `serial_tokens1_sig_per_s=${fmt(single.one.rate)} serial_tokens2_sig_per_s=${fmt(single.two.rate)} serial_ratio=${fmt(single.two.rate / single.one.rate, 3)}`,
);
