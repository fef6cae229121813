/**
 * What a registration costs at the least, whatever the vault's design: the
 * floor under bench:serial's ratio. Measured, in this process and one client
 * process, on the same machine as the real run:
 *
 * - HTTP: two keep-alive POSTs of the real sizes between node:http client and
 *   server, the server answering fixed bytes (no database); bare node:http,
 *   then a koa app that logs each request with pino as the vault does;
 * - the device's part: signing its serial-request (1024-bit key, set up
 *   beforehand) and encoding it with the model;
 * - the vault's assertion work: decoding the request, checking its
 *   self-signature, building the serial (its RSA signature left out: that is
 *   the HSM's part, counted apart) and encoding the answer;
 * - the database's part: one lookup (request-id, device, serial at once) and
 *   the three rows a registration writes (used request-id, serial, log), in
 *   group commits of 64: with the sqlite3 driver's prepared statements, then
 *   through knex.
 *
 * The bare figures are a floor for any design; the second set, for any
 * design on the packages this project is fixed to (koa, knex, pino).
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { pino } from 'pino';
import getRawBody from 'raw-body';
import sqlite3 from 'sqlite3';
import { openDatabase } from '../../src/db/database.js';
import { readyDeviceKeys } from './device-keys.js';
import type { AddressInfo } from 'node:net';
import type { PublicKey} from '../../src/assertions/index.js';
import { NodeSigner, TrustDatabase, decodeStream, encodeStream, formatRfc3339, signAssertion, type Assertion, type Signer } from '../../src/assertions/index.js';

/** CPU ms per registration for each part, on one stack. */
export interface FloorParts {
  readonly httpServer: number;
  readonly httpClient: number;
  readonly device: number;
  readonly vaultCodec: number;
  readonly database: number;
}

export interface Floor {
  /** node:http, SQLite through the driver's prepared statements, no log. */
  readonly bare: FloorParts;
  /** The project's fixed packages: a koa app with a pino line per request, SQLite through knex. */
  readonly chosen: FloorParts;
}

export const floorTotal = (f: FloorParts) => f.httpServer + f.httpClient + f.device + f.vaultCodec + f.database;

/** Untimed first calls of each part. */
const WARM_UP = 200;

const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

const REQUEST_ID = `${'A'.repeat(28)}.${'B'.repeat(22)}`;

/** Answers request-id and serial with fixed bytes, straight on node:http. */
function bareServer(answerBytes: number): RequestListener {
  const idAnswer = Buffer.from(JSON.stringify({ 'request-id': REQUEST_ID }));
  const serialAnswer = Buffer.alloc(answerBytes, 's');
  return (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      const serial = req.url?.endsWith('/serial') === true;
      res.writeHead(200, { 'Content-Type': serial ? 'application/x.ubuntu.assertion' : 'application/json' });
      res.end(serial ? serialAnswer : idAnswer);
    });
  };
}

/** The same answers from a koa app that reads the body as the vault does and logs each request with pino. */
function koaServer(answerBytes: number): { listener: RequestListener; close: () => void } {
  const serialAnswer = Buffer.alloc(answerBytes, 's');
  const destination = pino.destination({ dest: '/dev/null', sync: false });
  const logger = pino({ base: { pid: process.pid } }, destination);
  const app = new Koa();
  app.use(async function logAccess(ctx, next) {
    const start = performance.now();
    await next();
    logger.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - start), ip: ctx.ip }, 'request');
  });
  app.use(async function answer(ctx) {
    if (ctx.path.endsWith('/serial')) {
      await getRawBody(ctx.req, { limit: 1 << 20, length: ctx.get('Content-Length') || undefined });
      ctx.set('Content-Type', 'application/x.ubuntu.assertion');
      ctx.body = serialAnswer;
    } else {
      ctx.set('Content-Type', 'application/json');
      ctx.body = Buffer.from(JSON.stringify({ 'request-id': REQUEST_ID }));
    }
  });
  return { listener: app.callback(), close: () => destination.end() };
}

async function httpFloor(listener: RequestListener, loader: string, requestBytes: number, concurrency: number, seconds: number): Promise<{ server: number; client: number }> {
  const server = createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const before = process.cpuUsage();
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [loader, `http://127.0.0.1:${port}/v1/`, String(requestBytes), String(concurrency), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`floor load generator exited with ${code}`))));
  });
  const serverCpu = cpuMs(before);
  await new Promise((r) => server.close(r));
  const { count, cpuMs: clientCpu } = JSON.parse(out) as { count: number; cpuMs: number };
  return { server: serverCpu / count, client: clientCpu / count };
}

/** Stands in for the HSM: answers at once with a signature of the right size, so only the codec's own work is timed. */
class FixedSigner implements Signer {
  readonly publicKey: PublicKey = new NodeSigner(generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey).publicKey;
  private readonly signature = new Uint8Array(512).fill(1);
  async signDigest(): Promise<Uint8Array> {
    return this.signature;
  }
}

async function codecFloor(model: Assertion, devicePems: readonly string[]): Promise<{ device: number; vault: number }> {
  const view = model.is('model') ? model.view : undefined;
  if (!view) throw new Error('not a model assertion');
  const keys = await readyDeviceKeys(devicePems);
  const deviceRequest = async (key: NodeSigner) => {
    const request = await signAssertion(
      { type: 'serial-request', 'brand-id': view.brandId, model: view.model, 'request-id': REQUEST_ID, 'device-key': key.publicKey.encoded },
      undefined,
      key,
      { minimumKeyBits: 1024 },
    );
    return encodeStream([request, model]);
  };
  // A first pass lets the JIT settle, as it has in a running vault; the second is timed.
  for (const key of keys.slice(0, WARM_UP)) await deviceRequest(key);
  const bodies: Buffer[] = [];
  let before = process.cpuUsage();
  for (const key of keys) bodies.push(await deviceRequest(key));
  const device = cpuMs(before) / keys.length;

  const brand = new FixedSigner();
  const answer = async (body: Buffer, i: number) => {
    const [request, sentModel] = decodeStream(body);
    if (!request?.is('serial-request') || !sentModel) throw new Error('bad floor request');
    if (!new TrustDatabase({ trusted: [] }).check(request).ok) throw new Error('floor request does not verify');
    const req = request.view;
    const serial = await signAssertion(
      {
        type: 'serial',
        'authority-id': view.brandId,
        'brand-id': view.brandId,
        model: view.model,
        serial: `floor-${i}`,
        'device-key': req.deviceKey.encoded,
        'device-key-sha3-384': req.deviceKey.id,
        timestamp: formatRfc3339(new Date()),
      },
      request.body,
      brand,
    );
    return encodeStream([serial, sentModel]);
  };
  for (const [i, body] of bodies.slice(0, WARM_UP).entries()) await answer(body, i);
  before = process.cpuUsage();
  for (const [i, body] of bodies.entries()) await answer(body, i);
  const vault = cpuMs(before) / bodies.length;
  return { device, vault };
}

const SCHEMA = `CREATE TABLE request_ids (id TEXT PRIMARY KEY, used_by TEXT, used_at TEXT);
  CREATE TABLE serials (id INTEGER PRIMARY KEY, model_id INTEGER, serial TEXT, device_key_id TEXT, assertion TEXT, issued_at TEXT,
    UNIQUE (model_id, serial), UNIQUE (model_id, device_key_id));
  CREATE TABLE issuance_log (id INTEGER PRIMARY KEY, model TEXT, serial TEXT, device_key_id TEXT, outcome TEXT, request_id TEXT, issued_at TEXT);`;
const LOOKUP = `SELECT 1 FROM request_ids WHERE id = ? UNION ALL SELECT 2 FROM serials WHERE model_id = 1 AND (device_key_id = ? OR serial = ?)`;
const BATCH = 64;

/** Through knex, as the vault's repositories go: one lookup per registration, multi-row inserts per group commit. */
async function knexDatabaseFloor(registrations: number, assertionBytes: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sv-floor-'));
  // The vault's own SQLite set-up (WAL, synchronous, busy timeout, one connection).
  const db = openDatabase({ client: 'sqlite', filename: join(dir, 'floor.db') });
  try {
    for (const statement of SCHEMA.split(';').filter((x) => x.trim())) await db.raw(statement);
    const assertion = 's'.repeat(assertionBytes);
    const at = new Date().toISOString();
    const before = process.cpuUsage();
    for (let batch = 0; batch < registrations; batch += BATCH) {
      const ids = Array.from({ length: Math.min(BATCH, registrations - batch) }, (_, k) => batch + k);
      await Promise.all(ids.map((i) => db.raw(LOOKUP, [`rid-${i}`, `key-${i}`, `serial-${i}`])));
      await db.transaction(async (trx) => {
        await trx('request_ids').insert(ids.map((i) => ({ id: `rid-${i}`, used_by: 'hash', used_at: at })));
        await trx('serials').insert(ids.map((i) => ({ model_id: 1, serial: `serial-${i}`, device_key_id: `key-${i}`, assertion, issued_at: at })));
        await trx('issuance_log').insert(ids.map((i) => ({ model: 'model', serial: `serial-${i}`, device_key_id: `key-${i}`, outcome: 'issued', request_id: `rid-${i}`, issued_at: at })));
      });
    }
    const used = cpuMs(before);
    const [{ n }] = (await db('serials').count({ n: '*' })) as [{ n: number }];
    if (Number(n) !== registrations) throw new Error(`the database floor wrote ${n} serials, not ${registrations}`);
    return used / registrations;
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Straight through the sqlite3 driver, with prepared statements. */
async function bareDatabaseFloor(registrations: number, assertionBytes: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sv-floor-'));
  const db = new sqlite3.Database(join(dir, 'floor.db'));
  const exec = (sql: string) => new Promise<void>((res, rej) => db.exec(sql, (e) => (e ? rej(e) : res())));
  const step = (st: sqlite3.Statement, method: 'get' | 'run', params: unknown[]) =>
    new Promise<void>((res, rej) => st[method](params, (e: Error | null) => (e ? rej(e) : res())));
  try {
    await exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; ${SCHEMA}`);
    const lookup = db.prepare(LOOKUP);
    const useId = db.prepare('INSERT INTO request_ids VALUES (?, ?, ?)');
    const addSerial = db.prepare('INSERT INTO serials (model_id, serial, device_key_id, assertion, issued_at) VALUES (1, ?, ?, ?, ?)');
    const addLog = db.prepare('INSERT INTO issuance_log (model, serial, device_key_id, outcome, request_id, issued_at) VALUES (?, ?, ?, ?, ?, ?)');
    const assertion = 's'.repeat(assertionBytes);
    const at = new Date().toISOString();
    const before = process.cpuUsage();
    for (let batch = 0; batch < registrations; batch += BATCH) {
      const ids = Array.from({ length: Math.min(BATCH, registrations - batch) }, (_, k) => batch + k);
      await Promise.all(ids.map((i) => step(lookup, 'get', [`rid-${i}`, `key-${i}`, `serial-${i}`])));
      await exec('BEGIN');
      await Promise.all(
        ids.flatMap((i) => [
          step(useId, 'run', [`rid-${i}`, 'hash', at]),
          step(addSerial, 'run', [`serial-${i}`, `key-${i}`, assertion, at]),
          step(addLog, 'run', ['model', `serial-${i}`, `key-${i}`, 'issued', `rid-${i}`, at]),
        ]),
      );
      await exec('COMMIT');
    }
    const used = cpuMs(before);
    for (const st of [lookup, useId, addSerial, addLog]) st.finalize();
    const rows = await new Promise<number>((res, rej) => db.get('SELECT count(*) AS n FROM serials', (e, r: { n: number }) => (e ? rej(e) : res(r.n))));
    if (rows !== registrations) throw new Error(`the database floor wrote ${rows} serials, not ${registrations}`);
    return used / registrations;
  } finally {
    await new Promise((r) => db.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureFloor(options: {
  readonly loader: string;
  readonly model: Assertion;
  readonly devicePems: readonly string[];
  readonly requestBytes: number;
  readonly answerBytes: number;
  readonly concurrency: number;
  readonly seconds: number;
}): Promise<Floor> {
  const { loader, requestBytes, answerBytes, concurrency, seconds } = options;
  const bareHttp = await httpFloor(bareServer(answerBytes), loader, requestBytes, concurrency, seconds);
  const koa = koaServer(answerBytes);
  const koaHttp = await httpFloor(koa.listener, loader, requestBytes, concurrency, seconds).finally(koa.close);
  const codec = await codecFloor(options.model, options.devicePems);
  // A serial assertion is about a third of the answer (serial, account, account-key).
  const registrations = 2000;
  const bareDb = await bareDatabaseFloor(registrations, answerBytes / 3);
  const knexDb = await knexDatabaseFloor(registrations, answerBytes / 3);
  const common = { device: codec.device, vaultCodec: codec.vault };
  return {
    bare: { httpServer: bareHttp.server, httpClient: bareHttp.client, database: bareDb, ...common },
    chosen: { httpServer: koaHttp.server, httpClient: koaHttp.client, database: knexDb, ...common },
  };
}
