/**
 * What a registration costs at the least, whatever the vault's design: the
 * floor under bench:serial's ratio. Measured, in this process and one client
 * process, on the same machine as the real run:
 *
 * - HTTP: two keep-alive POSTs of the real sizes between node:http client and
 *   server, the server answering fixed bytes (no framework, no database, no log);
 * - the device's part: signing its serial-request (1024-bit key, set up
 *   beforehand) and encoding it with the model;
 * - the vault's assertion work: decoding the request, checking its
 *   self-signature, building the serial (its RSA signature left out: that is
 *   the HSM's part, counted apart) and encoding the answer;
 * - the database's part: one prepared lookup (request-id, device, serial at
 *   once) and the three rows a registration writes (used request-id, serial,
 *   log), in group commits of 64, straight through the sqlite3 driver.
 */
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import type { AddressInfo } from 'node:net';
import type { PublicKey} from '../../src/assertions/index.js';
import { NodeSigner, TrustDatabase, decodeStream, encodeStream, formatRfc3339, signAssertion, type Assertion, type Signer } from '../../src/assertions/index.js';

export interface Floor {
  /** CPU ms per registration for each part. */
  readonly httpServer: number;
  readonly httpClient: number;
  readonly device: number;
  readonly vaultCodec: number;
  readonly database: number;
}

/** Untimed first calls of each part. */
const WARM_UP = 200;

const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

async function httpFloor(loader: string, requestBytes: number, answerBytes: number, concurrency: number, seconds: number): Promise<{ server: number; client: number }> {
  const idAnswer = Buffer.from(JSON.stringify({ 'request-id': `${'A'.repeat(28)}.${'B'.repeat(22)}` }));
  const serialAnswer = Buffer.alloc(answerBytes, 's');
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      const serial = req.url?.endsWith('/serial') === true;
      res.writeHead(200, { 'Content-Type': serial ? 'application/x.ubuntu.assertion' : 'application/json' });
      res.end(serial ? serialAnswer : idAnswer);
    });
  });
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
  const keys = devicePems.map((pem) => new NodeSigner(createPrivateKey(pem)));
  const warmUp = createHash('sha512').update('warm-up').digest();
  for (const key of keys) {
    void key.publicKey.encoded;
    await key.signDigest(warmUp);
  }
  const requestId = `${'A'.repeat(28)}.${'B'.repeat(22)}`;
  const deviceRequest = async (key: NodeSigner) => {
    const request = await signAssertion(
      { type: 'serial-request', 'brand-id': view.brandId, model: view.model, 'request-id': requestId, 'device-key': key.publicKey.encoded },
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

async function databaseFloor(registrations: number, assertionBytes: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sv-floor-'));
  const db = new sqlite3.Database(join(dir, 'floor.db'));
  const exec = (sql: string) => new Promise<void>((res, rej) => db.exec(sql, (e) => (e ? rej(e) : res())));
  const step = (st: sqlite3.Statement, method: 'get' | 'run', params: unknown[]) =>
    new Promise<void>((res, rej) => st[method](params, (e: Error | null) => (e ? rej(e) : res())));
  try {
    await exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
      CREATE TABLE request_ids (id TEXT PRIMARY KEY, used_by TEXT, used_at TEXT);
      CREATE TABLE serials (id INTEGER PRIMARY KEY, model_id INTEGER, serial TEXT, device_key_id TEXT, assertion TEXT, issued_at TEXT,
        UNIQUE (model_id, serial), UNIQUE (model_id, device_key_id));
      CREATE TABLE issuance_log (id INTEGER PRIMARY KEY, model TEXT, serial TEXT, device_key_id TEXT, outcome TEXT, request_id TEXT, issued_at TEXT);`);
    const lookup = db.prepare(`SELECT 1 FROM request_ids WHERE id = ?1 UNION ALL
      SELECT 2 FROM serials WHERE model_id = 1 AND (device_key_id = ?2 OR serial = ?3)`);
    const useId = db.prepare('INSERT INTO request_ids VALUES (?, ?, ?)');
    const addSerial = db.prepare('INSERT INTO serials (model_id, serial, device_key_id, assertion, issued_at) VALUES (1, ?, ?, ?, ?)');
    const addLog = db.prepare('INSERT INTO issuance_log (model, serial, device_key_id, outcome, request_id, issued_at) VALUES (?, ?, ?, ?, ?, ?)');
    const assertion = 's'.repeat(assertionBytes);
    const at = new Date().toISOString();
    const before = process.cpuUsage();
    for (let batch = 0; batch < registrations; batch += 64) {
      const ids = Array.from({ length: Math.min(64, registrations - batch) }, (_, k) => batch + k);
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
    const used = process.cpuUsage(before);
    for (const st of [lookup, useId, addSerial, addLog]) st.finalize();
    const rows = await new Promise<number>((res, rej) => db.get('SELECT count(*) AS n FROM serials', (e, r: { n: number }) => (e ? rej(e) : res(r.n))));
    if (rows !== registrations) throw new Error(`the database floor wrote ${rows} serials, not ${registrations}`);
    return (used.user + used.system) / 1000 / registrations;
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
  const http = await httpFloor(options.loader, options.requestBytes, options.answerBytes, options.concurrency, options.seconds);
  const codec = await codecFloor(options.model, options.devicePems);
  const database = await databaseFloor(2000, options.answerBytes / 3);
  return { httpServer: http.server, httpClient: http.client, device: codec.device, vaultCodec: codec.vault, database };
}
