import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeSigner, encodeStream, signAssertion } from '../../src/assertions/index.js';
import { isTransientDbError } from '../../src/db/errors.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';

/**
 * Faults found when the vault was attacked, one regression test each: every
 * one of these failed on the code before its fix.
 */

/** One data directory per vault: the demo's API key file belongs to the database that made it. */
const dirs: string[] = [];
const dataDir = () => {
  const dir = testDataDir();
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach(removeDataDir));

async function freshId(t: TestVault, apiKey = t.apiKey): Promise<string> {
  const res = await fetch(`${t.url}request-id`, { method: 'POST', headers: { 'api-key': apiKey } });
  return ((await res.json()) as { 'request-id': string })['request-id'];
}

async function post(t: TestVault, key: NodeSigner, id: string, opts: { apiKey?: string; model?: string; serial?: string } = {}): Promise<Response> {
  const name = opts.model ?? 'demo-model';
  const model = (await t.vault.models.find('demo-brand', name))!;
  const request = await signAssertion(
    { type: 'serial-request', 'brand-id': 'demo-brand', model: name, 'request-id': id, 'device-key': key.publicKey.encoded, ...(opts.serial ? { serial: opts.serial } : {}) },
    undefined,
    key,
    { minimumKeyBits: 2048 },
  );
  return fetch(`${t.url}serial`, {
    method: 'POST',
    headers: { 'api-key': opts.apiKey ?? t.apiKey, 'Content-Type': 'application/x.ubuntu.assertion' },
    body: encodeStream([request, await t.vault.models.assertion(model)]),
  });
}

const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code;

describe.each<DatabaseKind>(['sqlite', 'pg'])('device API faults on %s', (database) => {
  let t: TestVault;
  let keys: NodeSigner[];
  let proposedKey: string;
  beforeAll(async () => {
    t = await startTestVault(dataDir(), database);
    keys = (await deviceKeys(16)).map((k) => new NodeSigner(k));
    const proposed = await t.vault.models.createModel({ 'brand-id': 'demo-brand', model: 'proposed', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel' }, { checkCatalog: false });
    proposedKey = (await t.vault.provisioning.apiKeys.create(proposed.id, 'test')).key;
  });
  afterAll(() => t?.close());

  it('a request-id is single use in every spelling: extra parts, padding and stray characters are unknown ids', async () => {
    const id = await freshId(t);
    expect((await post(t, keys[0]!, id)).status).toBe(200);
    const [payload, mac] = id.split('.') as [string, string];
    const spellings = [`${id}.x`, `${id}.`, `${payload}=.${mac}`, `${payload}.${mac}==`, `${payload}.${mac}!`, ` ${id}`, `${payload}..${mac}`, `${payload}.${mac}\n`];
    for (const [i, spelling] of spellings.entries()) {
      const res = await post(t, keys[1 + i]!, spelling);
      expect(res.status, spelling).toBe(400);
      expect(await codeOf(res)).toBe('ERR_REQUEST_ID_UNKNOWN');
    }
    expect(await t.vault.db('serials').whereIn('device_key_id', keys.slice(1, 9).map((k) => k.publicKey.id))).toEqual([]);
  });

  it('the same device key racing itself with different request-ids always gets its serial, byte for byte, never 409', async () => {
    for (const serial of ['RACE-1', 'RACE-2', 'RACE-3']) {
      const key = keys[9 + Number(serial.slice(-1))]!;
      const ids = await Promise.all(Array.from({ length: 12 }, () => freshId(t, proposedKey)));
      const answers = await Promise.all(ids.map((id) => post(t, key, id, { apiKey: proposedKey, model: 'proposed', serial })));
      expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
      const bodies = await Promise.all(answers.map(async (r) => Buffer.from(await r.arrayBuffer()).toString()));
      expect(new Set(bodies).size).toBe(1);
    }
  });

  it('a proposed serial longer than the column allows is a 400 naming the limit', async () => {
    const res = await post(t, keys[13]!, await freshId(t, proposedKey), { apiKey: proposedKey, model: 'proposed', serial: 'S'.repeat(129) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('ERR_SERIAL_INVALID');
    expect(body.message).toMatch(/at most 128/);
    expect((await post(t, keys[13]!, await freshId(t, proposedKey), { apiKey: proposedKey, model: 'proposed', serial: 'é'.repeat(128) })).status).toBe(200);
  });

  it('a failure between taking a template number and reserving it leaves no gap', async () => {
    const numbers = async () =>
      (await t.vault.db('serials').join('models', 'models.id', 'serials.model_id').where('models.name', 'demo-model').select('serial')).map((r) =>
        Number(String(r.serial).replace('DEMO-', '')),
      );
    // The reservation insert fails once, as a crash between the two statements would leave it.
    if (database === 'sqlite') {
      await t.vault.db.raw(`CREATE TRIGGER fail_reserve BEFORE INSERT ON serial_reservations BEGIN SELECT RAISE(ABORT, 'injected'); END`);
    } else {
      await t.vault.db.raw(`CREATE FUNCTION fail_reserve() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '58030'; END $$ LANGUAGE plpgsql`);
      await t.vault.db.raw(`CREATE TRIGGER fail_reserve BEFORE INSERT ON serial_reservations FOR EACH ROW EXECUTE FUNCTION fail_reserve()`);
    }
    expect((await post(t, keys[14]!, await freshId(t))).status).toBeGreaterThanOrEqual(500);
    await t.vault.db.raw('DROP TRIGGER fail_reserve' + (database === 'pg' ? ' ON serial_reservations' : ''));
    expect((await post(t, keys[14]!, await freshId(t))).status).toBe(200);
    const n = (await numbers()).sort((a, b) => a - b);
    expect(n).toEqual(Array.from({ length: n.length }, (_, i) => i + 1));
  });

  it('every 4xx is application/json in the error shape, 405 included', async () => {
    for (const [method, path] of [['GET', 'serial'], ['PUT', 'request-id'], ['DELETE', 'serial']] as const) {
      const res = await fetch(`${t.url}${path}`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await codeOf(res)).toBe('ERR_METHOD_NOT_ALLOWED');
    }
  });

  it('devices learn only whether the vault is ready', async () => {
    const res = await fetch(new URL('/health/ready', t.url));
    expect(await res.json()).toEqual({ ok: true });
  });
});

describe('database faults that may pass are 503, never 500', () => {
  let t: TestVault;
  let keys: NodeSigner[];
  beforeAll(async () => {
    t = await startTestVault(dataDir(), 'sqlite');
    keys = (await deviceKeys(40)).map((k) => new NodeSigner(k));
  });
  afterAll(() => t?.close());

  it('a read-only database', async () => {
    const id = await freshId(t);
    await t.vault.db.raw('PRAGMA query_only = ON');
    try {
      const res = await post(t, keys[0]!, id);
      expect(res.status).toBe(503);
      expect(await codeOf(res)).toBe('ERR_TEMPORARILY_UNAVAILABLE');
    } finally {
      await t.vault.db.raw('PRAGMA query_only = OFF');
    }
    expect((await post(t, keys[0]!, id)).status).toBe(200);
  });

  it('a full disk (the database may not grow)', async () => {
    const [{ page_count: pages }] = (await t.vault.db.raw('PRAGMA page_count')) as [{ page_count: number }];
    await t.vault.db.raw(`PRAGMA max_page_count = ${pages}`);
    try {
      // Free pages inside the file are used first: register until the file would have to grow.
      const statuses: number[] = [];
      for (const key of keys.slice(1)) {
        statuses.push((await post(t, key, await freshId(t))).status);
        if (statuses.at(-1) !== 200) break;
      }
      expect(statuses.at(-1)).toBe(503);
    } finally {
      await t.vault.db.raw('PRAGMA max_page_count = 1073741823');
    }
  });

  it('I/O errors and PostgreSQL’s disk, connection and read-only classes are taken as passing faults', () => {
    for (const code of ['SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_FULL', 'SQLITE_READONLY', '53100', '58030', '08006', '25006', '57P01']) {
      expect(isTransientDbError({ code }), code).toBe(true);
    }
    for (const code of ['SQLITE_CONSTRAINT', '23505', '22001', undefined]) expect(isTransientDbError({ code }), String(code)).toBe(false);
  });
});

describe('unauthenticated slow bodies do not take registration slots', () => {
  let t: TestVault;
  beforeAll(async () => {
    t = await startTestVault(dataDir(), 'sqlite', { device: { maxInFlight: 5, bodyTimeoutSeconds: 2 } } as never);
  });
  afterAll(() => t?.close());

  /** Opens a connection that sends headers with a Content-Length and then one byte, and waits. */
  const trickle = (apiKey: string | undefined) =>
    new Promise<{ close: () => void; closed: Promise<string> }>((resolve) => {
      const url = new URL(t.url);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST ${url.pathname}serial HTTP/1.1\r\nHost: x\r\nContent-Type: application/x.ubuntu.assertion\r\nContent-Length: 1000\r\n${apiKey ? `api-key: ${apiKey}\r\n` : ''}\r\nx`,
        );
        let answer = '';
        socket.on('data', (d) => (answer += d.toString()));
        const closed = new Promise<string>((done) => socket.on('close', () => done(answer)));
        socket.on('error', () => undefined);
        resolve({ close: () => socket.destroy(), closed });
      });
    });

  it('without an api-key they are refused at once, and devices still register', async () => {
    const slow = await Promise.all(Array.from({ length: 20 }, () => trickle(undefined)));
    const [key] = (await deviceKeys(1)).map((k) => new NodeSigner(k));
    const res = await post(t, key!, await freshId(t));
    expect(res.status).toBe(200);
    const answers = await Promise.all(slow.map((s) => s.closed));
    expect(answers.every((a) => a.startsWith('HTTP/1.1 401'))).toBe(true);
  });

  it('with a valid api-key a body that does not arrive in time is cut off with 408', async () => {
    const s = await trickle(t.apiKey);
    const answer = await s.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('ERR_BODY_TIMEOUT');
  });
});
