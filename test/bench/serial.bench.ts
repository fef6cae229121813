/**
 * npm run bench:serial: full device registrations per second (request-id
 * then serial) against a real server (its own process, SoftHSM2, SQLite),
 * driven by a load generator in another process at several concurrency
 * levels; p50/p99 latency; the server's RSS; the CPU a registration costs
 * in each process; and, in the same run, the keystore's raw signing rate on
 * the same token and the floor (see floor.ts) that caps the ratio here.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPair } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { Pkcs11KeyStore } from '../../src/keystore/pkcs11/keystore.js';
import { decodeStream } from '../../src/assertions/index.js';
import { floorTotal, measureFloor, type FloorParts } from './floor.js';
import { addSecondToken } from './second-token.js';
import { fmt, timedRate } from './measure.js';
import { freePort, waitUntilOk } from '../support/net.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const LEVELS = [8, 32, 128];
// The key file must cover the levels, the open loop and the four token levels.
const RUNS = LEVELS.length + 5;
const root = resolve(import.meta.dirname, '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const loader = join(root, 'dist', 'test', 'bench', 'serial-load.js');
const floorLoader = join(root, 'dist', 'test', 'bench', 'floor-load.js');
/** The goal for the ratio. */
const GOAL = 0.85;

const run = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  new Promise<string>((res, rej) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${args.join(' ')} exited with ${code}`))));
  });

/** Device keys made ahead (1024-bit: the vault takes any size, and 5000 4096-bit keys would take an hour to make); cached between runs. */
async function deviceKeys(n: number): Promise<string> {
  const file = join(tmpdir(), `serial-vault-bench-keys-${n}.json`);
  if (existsSync(file)) return file;
  process.stderr.write(`making ${n} device keys (cached in ${file})…\n`);
  const gen = promisify(generateKeyPair);
  const pems: string[] = [];
  for (let i = 0; i < n; i += 64) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(64, n - i) }, () => gen('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })),
    );
    pems.push(...batch.map((k) => k.privateKey as unknown as string));
  }
  writeFileSync(file, JSON.stringify(pems));
  return file;
}

/** CPU time (user + system, all threads) a process has used so far, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const data = mkdtempSync(join(tmpdir(), 'sv-bench-'));
let server: ChildProcess | undefined;
try {
  const port = await freePort();
  await run([cli, 'init', '--data-dir', data, '--demo', '--port', String(port), '--admin-port', String(await freePort()), '--store-port', '0']);
  const config = await loadConfig(data);
  process.env['SOFTHSM2_CONF'] = config.hsm.softhsmConf;
  const keysFile = await deviceKeys(Math.ceil(400 * SECONDS * RUNS));

  console.log(`serial benchmark: SoftHSM2 RSA-4096 brand key, SQLite, ${LEVELS.join('/')} concurrent devices, ${SECONDS} s per level, node ${process.version}`);

  // The machine's RSA-4096 signing rate on every core: the baseline the goal is stated against.
  const cores = availableParallelism();
  const speed = execFileSync('openssl', ['speed', '-multi', String(cores), '-seconds', String(Math.max(2, SECONDS)), 'rsa4096'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const opensslSigns = Number(/rsa\s+4096\s+bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)/.exec(speed)?.[1] ?? NaN);
  if (!Number.isFinite(opensslSigns)) throw new Error(`cannot read the signing rate from openssl speed:\n${speed}`);
  console.log(`openssl speed -multi ${cores} rsa4096:  ${fmt(opensslSigns)} signs/s`);

  // The keystore alone, on the same token and key, before the server starts.
  const store = await Pkcs11KeyStore.open({ uri: config.hsm.uri, maxQueue: 64 });
  const digest = createHash('sha512').update('x').digest();
  await timedRate(() => store.signDigest('brand-demo-brand-serials', digest), 1, 8);
  const cpuBefore = process.cpuUsage();
  const signsBefore = performance.now();
  const rawSign = await timedRate(() => store.signDigest('brand-demo-brand-serials', digest), SECONDS, 8);
  const signCpu = process.cpuUsage(cpuBefore);
  const cpuPerSign = (signCpu.user + signCpu.system) / 1000 / (rawSign * ((performance.now() - signsBefore) / 1000));
  await store.close();
  console.log(`keystore raw signing rate:          ${fmt(rawSign)} signs/s (${fmt(cpuPerSign, 2)} ms CPU per signature)`);

  const serve = async () => {
    server = spawn(process.execPath, [cli, 'serve', '--data-dir', data], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitUntilOk(`http://127.0.0.1:${port}/health/ready`, 100);
    return server;
  };
  const stop = async () => {
    const stopped = new Promise((r) => server!.once('exit', r));
    server!.kill('SIGTERM');
    await stopped;
    server = undefined;
  };
  const main = await serve();
  const url = `http://127.0.0.1:${port}/v1/`;
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(main.pid!))), 200);
  const apiKey = readFileSync(join(data, 'demo', 'api-key'), 'utf8').trim();
  const modelFile = join(data, 'demo', 'demo-model.model');

  // The load generator takes keys from the start of the file each run: give each run its own slice.
  const pems = JSON.parse(readFileSync(keysFile, 'utf8')) as string[];
  let offset = 0;
  const slice = (n: number) => {
    const file = join(data, `keys-${offset}.json`);
    writeFileSync(file, JSON.stringify(pems.slice(offset, offset + n)));
    offset += n;
    if (offset > pems.length) throw new Error('not enough device keys for this run');
    return file;
  };

  type Result = { count: number; errors: number; rate: number; p50: number; p99: number; cpuMs: number; requestBytes: number; answerBytes: number };
  let best: (Result & { serverCpu: number; concurrency: number }) | undefined;
  for (const c of LEVELS) {
    const keys = slice(Math.ceil(400 * SECONDS));
    const serverCpuBefore = cpuMs(main.pid!);
    const r = JSON.parse(await run([loader, url, apiKey, modelFile, keys, 'closed', String(c), String(SECONDS)])) as Result;
    // Where the CPU goes, per registration: the two cores are shared by the server and the load generator.
    const serverCpu = (cpuMs(main.pid!) - serverCpuBefore) / r.count;
    console.log(
      `${String(c).padStart(4)} concurrent devices:  ${fmt(r.rate)} registrations/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, errors ${r.errors}; ` +
        `CPU per registration: server ${fmt(serverCpu, 2)} ms, load generator ${fmt(r.cpuMs / r.count, 2)} ms`,
    );
    if (!best || r.rate > best.rate) best = { ...r, serverCpu, concurrency: c };
  }
  const target = 0.8 * best!.rate;
  const open = JSON.parse(await run([loader, url, apiKey, modelFile, slice(Math.ceil(target * SECONDS) + 10), 'open', String(target), String(SECONDS)])) as Result;
  console.log(`open loop at ${fmt(target)}/s (80% of best): ${fmt(open.rate)} registrations/s, p50 ${fmt(open.p50)} ms, p99 ${fmt(open.p99)} ms, errors ${open.errors}`);
  clearInterval(sampler);
  console.log(`server peak RSS:                     ${fmt(peakRss)} MB`);
  await stop();

  // Several tokens: the model's serials signed by a second key in a second token, at the best level's concurrency.
  // Once with the default signers per token, once with one signer per token (a token that signs one at a time, as a USB HSM).
  const bestLevel = best!.concurrency;
  const tokenRates: Record<string, number> = {};
  const level = async (name: string) => {
    await serve();
    const r = JSON.parse(await run([loader, url, apiKey, modelFile, slice(Math.ceil(400 * SECONDS)), 'closed', String(bestLevel), String(SECONDS)])) as Result;
    await stop();
    tokenRates[name] = r.rate;
    console.log(`${name.padEnd(34)} ${fmt(r.rate)} registrations/s at ${bestLevel} concurrent devices, p99 ${fmt(r.p99)} ms, errors ${r.errors}`);
  };
  const setSigners = (signers: number | undefined, tokens: string[]) => {
    const file = join(data, 'config.json');
    const c = JSON.parse(readFileSync(file, 'utf8')) as { hsm: Record<string, unknown> };
    c.hsm['tokens'] = tokens;
    if (signers === undefined) delete c.hsm['signers'];
    else c.hsm['signers'] = signers;
    writeFileSync(file, JSON.stringify(c, null, 2));
  };
  // One token first: once the second key signs the model's serials, its token must be there.
  setSigners(undefined, []);
  await level('1 token (default signers):');
  setSigners(1, []);
  await level('1 token, 1 signer:');
  await addSecondToken(data, cli, run);
  const second = ['pkcs11:token=serial-vault-2?pin-source=file:secrets/user-pin'];
  setSigners(undefined, second);
  await level('2 tokens (default signers each):');
  setSigners(1, second);
  await level('2 tokens, 1 signer each:');

  // The ratio's ceiling on this machine: every registration costs one HSM signature plus a floor of
  // work no design avoids (HTTP both ends, the device's signing, the vault's assertion work, SQLite).
  const floor = await measureFloor({
    loader: floorLoader,
    model: decodeStream(readFileSync(modelFile))[0]!,
    devicePems: pems.slice(0, 500),
    requestBytes: best!.requestBytes,
    answerBytes: best!.answerBytes,
    concurrency: LEVELS[LEVELS.length - 1]!,
    seconds: SECONDS,
  });
  const budget = cpuPerSign / GOAL - cpuPerSign;
  const ceiling = (parts: FloorParts, what: string) => {
    const total = floorTotal(parts);
    console.log(
      `floor, ${what}: HTTP server ${fmt(parts.httpServer, 2)} + HTTP client ${fmt(parts.httpClient, 2)} + device signing ${fmt(parts.device, 2)} + ` +
        `vault assertion work ${fmt(parts.vaultCodec, 2)} + SQLite ${fmt(parts.database, 2)} = ${fmt(total, 2)} ms CPU per registration: ratio ceiling ${fmt(cpuPerSign / (cpuPerSign + total), 3)}`,
    );
  };
  ceiling(floor.bare, 'any design (node:http, prepared statements, no log)');
  ceiling(floor.chosen, 'on koa, pino and knex');
  console.log(
    `a ratio of ${GOAL} leaves ${fmt(budget, 2)} ms CPU per registration beside the signature (${fmt(cpuPerSign, 2)} ms); ` +
      `the best level spent ${fmt(best!.serverCpu + best!.cpuMs / best!.count - cpuPerSign, 2)} ms`,
  );
  // Server CPU beside the one signature each registration needs (all the server's threads, signers included).
  const overhead = best!.serverCpu - cpuPerSign;
  console.log(`serial_ratio (best ÷ keystore raw rate): ${fmt(best!.rate / rawSign, 3)}`);
  const ratio = (a: string, b: string) => fmt(tokenRates[b]! / tokenRates[a]!, 2);
  console.log(
    `RESULT serial_openssl_ratio=${fmt(best!.rate / opensslSigns, 3)} overhead_ms=${fmt(overhead, 2)} p99_ms=${fmt(open.p99)} rss_mb=${fmt(peakRss)} ` +
      `tokens1_rate=${fmt(tokenRates['1 token (default signers):']!)} tokens2_rate=${fmt(tokenRates['2 tokens (default signers each):']!)} tokens_ratio=${ratio('1 token (default signers):', '2 tokens (default signers each):')} ` +
      `one_signer_tokens_ratio=${ratio('1 token, 1 signer:', '2 tokens, 1 signer each:')}`,
  );
} finally {
  server?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  rmSync(data, { recursive: true, force: true });
}
