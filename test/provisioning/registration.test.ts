import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NodeSigner,
  TrustDatabase,
  decodeStream,
  encodeStream,
  signAssertion,
  type Assertion,
} from '../../src/assertions/index.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { RequestIdRepository } from '../../src/provisioning/request-ids.js';
import { readVector } from '../support/vectors.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';

const dataDir = testDataDir();
afterAll(() => removeDataDir(dataDir));

/** What snapd does by hand, for the cases the client would not send. */
async function requestId(t: TestVault, apiKey = t.apiKey): Promise<Response> {
  return fetch(`${t.url}request-id`, { method: 'POST', headers: { 'api-key': apiKey } });
}

async function serialRequest(
  t: TestVault,
  key: NodeSigner,
  id: string,
  extra: Record<string, string> = {},
  model: Assertion = t.model,
): Promise<Buffer> {
  const view = model.is('model') ? model.view : undefined;
  const request = await signAssertion(
    { type: 'serial-request', 'brand-id': view!.brandId, model: view!.model, 'request-id': id, 'device-key': key.publicKey.encoded, ...extra },
    Buffer.from('mac: 00:11:22:33:44:55'),
    key,
    { minimumKeyBits: 2048 },
  );
  return encodeStream([request, t.model]);
}

async function postSerial(t: TestVault, body: Buffer, apiKey = t.apiKey): Promise<Response> {
  return fetch(`${t.url}serial`, {
    method: 'POST',
    headers: { 'api-key': apiKey, 'Content-Type': 'application/x.ubuntu.assertion', 'Snap-Device-Capabilities': 'serial-stream' },
    body,
  });
}

async function freshId(t: TestVault): Promise<string> {
  return ((await (await requestId(t)).json()) as { 'request-id': string })['request-id'];
}

async function expectRefusal(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status);
  // snapd shows the message only for exactly this Content-Type.
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as { code: string; message: string; error_list: { code: string; message: string }[] };
  expect(body.code).toBe(code);
  expect(body.error_list).toEqual([{ code, message: body.message }]);
  expect(body.message.length).toBeGreaterThan(10);
  return body.message;
}

describe.each<DatabaseKind>(['sqlite', 'pg'])('device registration on SoftHSM2 and %s', (database) => {
  let t: TestVault;
  let keys: NodeSigner[];
  let rawKeys: KeyObject[];
  beforeAll(async () => {
    t = await startTestVault(dataDir, database);
    rawKeys = await deviceKeys(12);
    keys = rawKeys.map((k) => new NodeSigner(k));
  });
  afterAll(() => t?.close());

  it('registers a device like snapd and the answer verifies against the exported root', async () => {
    const result = await registerDevice({ url: t.url, headers: { 'api-key': t.apiKey }, model: t.model, trusted: t.trusted, deviceKey: rawKeys[0]! });
    expect(result.serial.type).toBe('serial');
    expect(result.stream.map((a) => a.type)).toEqual(['serial', 'account', 'account-key']);
    // An offline device needs nothing else: the stream alone verifies against the root.
    const trust = new TrustDatabase({ trusted: t.trusted });
    expect(trust.addBatch([t.model, ...result.stream]).map((r) => r.error?.message)).toEqual([undefined, undefined, undefined, undefined]);
    const view = result.serial.is('serial') ? result.serial.view : undefined;
    expect(view?.serial).toMatch(/^DEMO-\d{6}$/);
  });

  it('answers with the serial stream as application/x.ubuntu.assertion', async () => {
    const res = await postSerial(t, await serialRequest(t, keys[1]!, await freshId(t)));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x.ubuntu.assertion');
    expect(decodeStream(Buffer.from(await res.arrayBuffer())).map((a) => a.type)).toEqual(['serial', 'account', 'account-key']);
  });

  it('gives a retried device the same serial assertion, byte for byte', async () => {
    const first = await postSerial(t, await serialRequest(t, keys[2]!, await freshId(t)));
    const again = await postSerial(t, await serialRequest(t, keys[2]!, await freshId(t)));
    expect(Buffer.from(await again.arrayBuffer()).equals(Buffer.from(await first.arrayBuffer()))).toBe(true);
  });

  it('accepts the same serial-request posted again (as after a 202)', async () => {
    const body = await serialRequest(t, keys[3]!, await freshId(t));
    const first = await postSerial(t, body);
    const again = await postSerial(t, body);
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(Buffer.from(await first.arrayBuffer()))).toBe(true);
  });

  it('refuses a request-id used by another serial-request', async () => {
    const id = await freshId(t);
    expect((await postSerial(t, await serialRequest(t, keys[4]!, id))).status).toBe(200);
    await expectRefusal(await postSerial(t, await serialRequest(t, keys[5]!, id)), 400, 'ERR_REQUEST_ID_USED');
  });

  it('refuses an expired request-id', async () => {
    // A request-id handed out an hour ago by this vault (same secret), ten minutes to live.
    const earlier = new RequestIdRepository(t.vault.db, 600_000, () => new Date(Date.now() - 3_600_000));
    await earlier.start();
    const id = await earlier.create((await t.vault.provisioning.apiKeys.verify(t.apiKey))!.id);
    await expectRefusal(await postSerial(t, await serialRequest(t, keys[5]!, id)), 400, 'ERR_REQUEST_ID_EXPIRED');
  });

  it('refuses an unknown request-id', async () => {
    await expectRefusal(await postSerial(t, await serialRequest(t, keys[5]!, 'made-up')), 400, 'ERR_REQUEST_ID_UNKNOWN');
  });

  it('refuses a wrong API key, on both endpoints', async () => {
    await expectRefusal(await requestId(t, 'sv_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), 401, 'ERR_API_KEY_INVALID');
    await expectRefusal(await postSerial(t, await serialRequest(t, keys[5]!, await freshId(t)), 'nonsense'), 401, 'ERR_API_KEY_INVALID');
  });

  it('refuses a serial-request whose signature does not verify', async () => {
    const body = (await serialRequest(t, keys[5]!, await freshId(t))).toString('utf8');
    // Change a header after signing: decodes, but the device key's signature no longer matches.
    const tampered = Buffer.from(body.replace('mac: 00:11:22:33:44:55', 'mac: 00:11:22:33:44:66'));
    await expectRefusal(await postSerial(t, tampered), 400, 'ERR_SERIAL_REQUEST_INVALID');
  });

  it('refuses an unknown model', async () => {
    const id = await freshId(t);
    const request = await signAssertion(
      { type: 'serial-request', 'brand-id': 'demo-brand', model: 'no-such-model', 'request-id': id, 'device-key': keys[5]!.publicKey.encoded },
      undefined,
      keys[5]!,
      { minimumKeyBits: 2048 },
    );
    await expectRefusal(await postSerial(t, encodeStream([request])), 404, 'ERR_MODEL_UNKNOWN');
  });

  it('refuses a model assertion that is not the registered one', async () => {
    const other = decodeStream(readVector('generated/uc16.model'));
    const request = decodeStream(await serialRequest(t, keys[5]!, await freshId(t)))[0]!;
    await expectRefusal(await postSerial(t, encodeStream([request, ...other])), 400, 'ERR_MODEL_MISMATCH');
  });

  it('refuses a body that is not an assertion stream, and the wrong media type', async () => {
    await expectRefusal(await postSerial(t, Buffer.from('hello')), 400, 'ERR_SERIAL_REQUEST_INVALID');
    const res = await fetch(`${t.url}serial`, { method: 'POST', headers: { 'api-key': t.apiKey, 'Content-Type': 'application/json' }, body: '{}' });
    await expectRefusal(res, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses an oversized body with 413', async () => {
    const res = await postSerial(t, Buffer.alloc(300 * 1024, 'a'));
    await expectRefusal(res, 413, 'ERR_BODY_TOO_LARGE');
  });

  describe('serials proposed by devices', () => {
    let apiKey: string;
    let reprovisionKey: string;
    beforeAll(async () => {
      const proposed = await t.vault.models.createModel({ 'brand-id': 'demo-brand', model: 'proposed', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel' }, { checkCatalog: false });
      apiKey = (await t.vault.provisioning.apiKeys.create(proposed.id, 'test')).key;
      const replaced = await t.vault.models.createModel(
        { 'brand-id': 'demo-brand', model: 'replaceable', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel' },
        { allowReprovision: true, checkCatalog: false },
      );
      reprovisionKey = (await t.vault.provisioning.apiKeys.create(replaced.id, 'test')).key;
    });

    const register = async (key: NodeSigner, name: string, api: string, serial?: string) => {
      const model = (await t.vault.models.find('demo-brand', name))!;
      const assertion = await t.vault.models.assertion(model);
      const id = ((await (await fetch(`${t.url}request-id`, { method: 'POST', headers: { 'api-key': api } })).json()) as { 'request-id': string })['request-id'];
      const request = await signAssertion(
        { type: 'serial-request', 'brand-id': 'demo-brand', model: name, 'request-id': id, 'device-key': key.publicKey.encoded, ...(serial ? { serial } : {}) },
        undefined,
        key,
        { minimumKeyBits: 2048 },
      );
      return postSerial(t, encodeStream([request, assertion]), api);
    };

    it('issues the proposed serial', async () => {
      const res = await register(keys[6]!, 'proposed', apiKey, 'FACTORY-0001');
      expect(res.status).toBe(200);
      const [serial] = decodeStream(Buffer.from(await res.arrayBuffer()));
      expect(serial?.headerString('serial')).toBe('FACTORY-0001');
    });

    it('refuses a request without a proposed serial', async () => {
      await expectRefusal(await register(keys[7]!, 'proposed', apiKey), 400, 'ERR_SERIAL_MISSING');
    });

    it('refuses with 409 a serial already issued to another device key', async () => {
      const message = await expectRefusal(await register(keys[7]!, 'proposed', apiKey, 'FACTORY-0001'), 409, 'ERR_SERIAL_CONFLICT');
      expect(message).toMatch(/FACTORY-0001/);
    });

    it('re-issues a serial to a new device key when the model allows re-provisioning', async () => {
      expect((await register(keys[8]!, 'replaceable', reprovisionKey, 'BOARD-1')).status).toBe(200);
      const res = await register(keys[9]!, 'replaceable', reprovisionKey, 'BOARD-1');
      expect(res.status).toBe(200);
      const [serial] = decodeStream(Buffer.from(await res.arrayBuffer()));
      expect(serial?.headerString('device-key-sha3-384')).toBe(keys[9]!.publicKey.id);
      const log = await t.vault.db('issuance_log').where({ serial: 'BOARD-1' }).orderBy('id');
      expect(log.map((r) => r.outcome)).toEqual(['issued', 'reprovisioned']);
    });

    it('refuses an API key of another model', async () => {
      await expectRefusal(await register(keys[10]!, 'replaceable', apiKey, 'X-1'), 403, 'ERR_API_KEY_MODEL');
    });
  });

  it('writes an issuance log row with every serial, in the same transaction', async () => {
    const serials = await t.vault.db('serials').select('serial', 'device_key_id');
    for (const s of serials) {
      const rows = await t.vault.db('issuance_log').where({ serial: s.serial, device_key_id: s.device_key_id });
      expect(rows.length).toBeGreaterThan(0);
      expect(rows[0]).toMatchObject({ brand_id: 'demo-brand', client_address: expect.stringMatching(/127\.0\.0\.1/) });
    }
  });

  it('200 devices registering at once get 200 distinct serials and 200 log rows', async () => {
    const devices = await deviceKeys(200);
    const before = await t.vault.provisioning.serials.logCount();
    const results = await Promise.all(
      devices.map((deviceKey) => registerDevice({ url: t.url, headers: { 'api-key': t.apiKey }, model: t.model, trusted: t.trusted, deviceKey })),
    );
    const serials = results.map((r) => r.serial.headerString('serial'));
    expect(new Set(serials).size).toBe(200);
    expect((await t.vault.provisioning.serials.logCount()) - before).toBe(200);
  });

  it('never writes the API key or the HSM PIN to its logs', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    await postSerial(t, await serialRequest(t, keys[11]!, await freshId(t)));
    const logs = t.logs();
    expect(logs).toContain('"path":"/v1/serial"');
    expect(logs).not.toContain(t.apiKey);
    // The secret part alone (after `sv_` and the 12-character prefix); it may itself contain '_'.
    expect(logs).not.toContain(t.apiKey.slice('sv_000000000000_'.length));
    expect(logs).not.toContain(readFileSync(join(t.dataDir, 'secrets', 'user-pin'), 'utf8').trim());
  });

  it('vault-allocated serials have no gaps or duplicates, across a restart', async () => {
    const numbers = async () =>
      (await t.vault.db('serials').join('models', 'models.id', 'serials.model_id').where('models.name', 'demo-model').select('serial'))
        .map((r) => Number(String(r.serial).replace('DEMO-', '')))
        .sort((a, b) => a - b);
    const before = await numbers();
    await t.close();
    t = await startTestVault(dataDir, database, {}, t.pgConnection);
    for (const deviceKey of await deviceKeys(5)) {
      await registerDevice({ url: t.url, headers: { 'api-key': t.apiKey }, model: t.model, trusted: t.trusted, deviceKey });
    }
    const n = await numbers();
    expect(n.length).toBe(before.length + 5);
    expect(n).toEqual(Array.from({ length: n.length }, (_, i) => i + 1));
  });
});
