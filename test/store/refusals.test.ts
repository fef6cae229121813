import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, createReadStream, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { NodeSigner, formatRfc3339, signAssertion, type Assertion } from '../../src/assertions/index.js';
import { installSnap } from '../../src/cli/device-install.js';
import { buildSnap } from '../support/snaps.js';
import { publish, registerTestDevice, startStoreVault, type StoreTestVault, type TestDevice } from '../support/store.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

type Json = Record<string, unknown>;

/** A model of the demo brand (or another) naming `store`, with an api-key to register its devices. */
async function modelFor(tv: StoreTestVault, brand: string, name: string, store: string): Promise<{ model: Assertion; apiKey: string }> {
  const record = await tv.vault.models.createModel(
    { 'brand-id': brand, model: name, architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel', store },
    { serialPolicy: 'template', serialTemplate: `${name.toUpperCase()}-{n:06}`, checkCatalog: false },
  );
  const { key } = await tv.vault.provisioning.apiKeyAdmin.create(record, 'refusals');
  return { model: await tv.vault.models.assertion(record), apiKey: key };
}

describe('the store refuses', () => {
  let dir: string;
  let tv: StoreTestVault;
  let device: TestDevice;

  const nonce = async () => ((await (await fetch(`${tv.storeUrl}api/v1/snaps/auth/nonces`, { method: 'POST' })).json()) as { nonce: string }).nonce;
  const sessionRequest = async (d: TestDevice, n: string, key = d.deviceKey) =>
    signAssertion(
      { type: 'device-session-request', 'brand-id': 'demo-brand', model: d.serial.headerString('model'), serial: d.serial.headerString('serial'), nonce: n, timestamp: formatRfc3339(new Date()) },
      undefined,
      new NodeSigner(key),
      { minimumKeyBits: 1024 },
    );
  const postSession = (request: Assertion, serial: Assertion, model: Assertion) =>
    fetch(`${tv.storeUrl}api/v1/snaps/auth/sessions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ 'device-session-request': request.encode().toString(), 'serial-assertion': serial.encode().toString(), 'model-assertion': model.encode().toString() }),
    });
  const refusal = async (res: Response) => ({ status: res.status, type: res.headers.get('content-type'), first: (((await res.json()) as { 'error-list': Json[] })['error-list'][0] ?? {}) as Json });

  beforeAll(async () => {
    dir = testDataDir();
    tv = await startStoreVault(dir);
    await tv.vault.accounts.addPerson(OPERATOR, 'admin@refusals.test', 'Admin');
    for (const id of ['eco-a', 'eco-b']) await tv.vault.accounts.createStore(OPERATOR, { id, name: id, parentId: 'demo-brand', kind: 'ecosystem', administrators: ['admin@refusals.test'] });
    await publish(tv, dir, { name: 'brand-snap' });
    await publish(tv, dir, { name: 'eco-a-secret', storeId: 'eco-a', private: true });
    device = await registerTestDevice(tv);
  }, 180_000);
  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  it('a device-session-request signed by a key other than the serial\'s device key (401 invalid-credentials)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const res = await postSession(await sessionRequest(device, await nonce(), privateKey), device.serial, device.model);
    expect(await refusal(res)).toMatchObject({ status: 401, type: 'application/json', first: { code: 'invalid-credentials', message: expect.stringContaining('device-session-request does not verify') } });
  });

  it('a nonce used twice: the second session request is refused', async () => {
    const request = await sessionRequest(device, await nonce());
    expect((await postSession(request, device.serial, device.model)).status).toBe(200);
    expect(await refusal(await postSession(request, device.serial, device.model))).toMatchObject({ status: 401, first: { code: 'invalid-credentials', message: expect.stringContaining('nonce') } });
  });

  it('a nonce the store never handed out', async () => {
    expect(await refusal(await postSession(await sessionRequest(device, 'made-up-nonce'), device.serial, device.model))).toMatchObject({ status: 401, first: { code: 'invalid-credentials' } });
  });

  it('a serial signed by a key the brand never registered (forged or foreign)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = await signAssertion(
      { type: 'serial', 'authority-id': 'demo-brand', 'brand-id': 'demo-brand', model: 'demo-model', serial: 'FORGED-1', 'device-key': device.serial.headerString('device-key'), 'device-key-sha3-384': device.serial.headerString('device-key-sha3-384'), timestamp: formatRfc3339(new Date()) },
      undefined,
      new NodeSigner(privateKey),
      { minimumKeyBits: 1024 },
    );
    const request = await signAssertion(
      { type: 'device-session-request', 'brand-id': 'demo-brand', model: 'demo-model', serial: 'FORGED-1', nonce: await nonce(), timestamp: formatRfc3339(new Date()) },
      undefined,
      new NodeSigner(device.deviceKey),
      { minimumKeyBits: 1024 },
    );
    expect(await refusal(await postSession(request, forged, device.model))).toMatchObject({ status: 401, first: { code: 'invalid-credentials', message: expect.stringContaining('serial does not verify') } });
  });

  it('a session request that is not the three assertions (400, no session)', async () => {
    const res = await fetch(`${tv.storeUrl}api/v1/snaps/auth/sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"device-session-request": "nonsense"}' });
    expect(res.status).toBe(400);
  });

  it("a device of another brand sees none of this brand's store, even when its model names it", async () => {
    await tv.vault.custody.createBrand('other-brand', 'Other Brand', 'demo-root');
    const other = await modelFor(tv, 'other-brand', 'other-model', 'demo-brand');
    const foreign = await registerTestDevice(tv, other.model, other.apiKey);
    const client = foreign.client();
    await client.newSession();
    const [r] = await client.snapAction([], [{ action: 'install', 'instance-key': 'install-1', name: 'brand-snap', channel: 'stable', epoch: null }]);
    expect(r).toMatchObject({ result: 'error', name: 'brand-snap', error: { code: 'name-not-found' } });
    // The same request from the brand's own device is answered.
    const [mine] = await device.client().snapAction([], [{ action: 'install', 'instance-key': 'install-1', name: 'brand-snap', channel: 'stable', epoch: null }]);
    expect(mine).toMatchObject({ result: 'install', snap: { name: 'brand-snap' } });
  });

  it("an ecosystem sibling's private snap: not offered, its file and its declaration not found", async () => {
    const a = await modelFor(tv, 'demo-brand', 'eco-a-model', 'eco-a');
    const b = await modelFor(tv, 'demo-brand', 'eco-b-model', 'eco-b');
    const inA = await registerTestDevice(tv, a.model, a.apiKey);
    const inB = await registerTestDevice(tv, b.model, b.apiKey);
    const [ok] = await inA.client().snapAction([], [{ action: 'install', 'instance-key': 'install-1', name: 'eco-a-secret', channel: 'stable', epoch: null }]);
    expect(ok).toMatchObject({ result: 'install' });
    const url = ((ok?.['snap'] as Json)['download'] as { url: string }).url;
    const snapId = (ok?.['snap'] as Json)['snap-id'] as string;

    const clientB = inB.client();
    const token = await clientB.newSession();
    const [refused] = await clientB.snapAction([], [{ action: 'install', 'instance-key': 'install-1', name: 'eco-a-secret', channel: 'stable', epoch: null }]);
    expect(refused).toMatchObject({ result: 'error', name: 'eco-a-secret', error: { code: 'name-not-found' } });
    const file = await fetch(url, { headers: { 'X-Device-Authorization': `Macaroon root="${token}"` } });
    expect(file.status).toBe(404);
    expect(await clientB.assertion('snap-declaration', ['16', snapId])).toBeUndefined();
    // Nor without any session.
    expect((await fetch(url)).status).toBe(404);
    expect((await fetch(`${tv.storeUrl}v2/assertions/snap-declaration/16/${snapId}`)).status).toBe(404);
  });

  it('an expired session is answered 401 with the refresh header on every endpoint, so a valid device always recovers', async () => {
    const client = device.client();
    const token = await client.newSession();
    await tv.vault.db('device_sessions').update({ expires_at: '2000-01-01T00:00:00.000Z' });
    for (const path of ['v2/snaps/info/brand-snap', 'v2/snaps/find?q=brand', 'v2/assertions/account/demo-brand', 'download/snaps/AAAA_1.snap']) {
      const res = await fetch(`${tv.storeUrl}${path}`, { headers: { 'Snap-Device-Authorization': `Macaroon root="${token}"`, 'X-Device-Authorization': `Macaroon root="${token}"` } });
      expect([path, res.status, res.headers.get('www-authenticate')]).toEqual([path, 401, 'Macaroon refresh_device_session=1']);
    }
    const [r] = await client.snapAction([], [{ action: 'install', 'instance-key': 'install-1', name: 'brand-snap', channel: 'stable', epoch: null }]);
    expect(r).toMatchObject({ result: 'install' });
  });

  it('a tampered blob: the device client finds the digest wrong and keeps nothing', async () => {
    await publish(tv, dir, { name: 'tampered-snap' });
    const status = await tv.vault.snaps.status(OPERATOR, 'demo-brand', 'tampered-snap');
    const path = tv.vault.snaps.blobs.pathOf(status.revisions[0]?.sha3_384 as string);
    chmodSync(path, 0o600);
    writeFileSync(path, Buffer.alloc(statSync(path).size, 0x41));
    await expect(installSnap(device.client(), { name: 'tampered-snap', dir: join(dir, 'tampered'), model: device.model, trusted: tv.trusted })).rejects.toThrow(/SHA3-384/);
  });
  it('a revision never released, or whose channel was closed: neither installed by number nor downloaded', async () => {
    await publish(tv, dir, { name: 'staged-snap' });
    const snaps = tv.vault.snaps;
    const file = buildSnap(dir, { name: 'staged-snap', version: '2.0', architectures: ['amd64'] }, 'pushed, not released');
    const up = await snaps.upload(OPERATOR, createReadStream(file));
    const pushed = await snaps.push(OPERATOR, 'demo-brand', 'staged-snap', up.uploadId);
    const client = device.client();
    const token = await client.newSession();
    const snapId = (await snaps.status(OPERATOR, 'demo-brand', 'staged-snap')).snap.snapId;
    const byRevision = (n: number) => client.snapAction([], [{ action: 'install', 'instance-key': 'install-1', name: 'staged-snap', revision: n, epoch: null }]);
    const download = (n: number) => fetch(`${tv.storeUrl}download/snaps/${snapId}_${n}.snap`, { headers: { 'X-Device-Authorization': `Macaroon root="${token}"` } });
    expect((await byRevision(pushed.revision))[0]).toMatchObject({ result: 'error', error: { code: 'revision-not-found' } });
    expect((await download(pushed.revision)).status).toBe(404);
    expect((await byRevision(1))[0]).toMatchObject({ result: 'install', snap: { revision: 1 } });
    const ok = await download(1);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    await snaps.release(OPERATOR, 'demo-brand', 'staged-snap', [{ revision: null, channel: 'stable' }]);
    expect((await download(1)).status).toBe(404);
    expect((await byRevision(1))[0]).toMatchObject({ result: 'error', error: { code: 'revision-not-found' } });
  });

  it('a request without a session never makes the vault sign a store assertion', async () => {
    await tv.vault.accounts.createStore(OPERATOR, { id: 'unsigned-line', name: 'Unsigned line', parentId: 'demo-brand', kind: 'product' });
    const res = await fetch(`${tv.storeUrl}v2/assertions/store/unsigned-line`);
    expect(res.status).toBe(404);
    expect(await tv.vault.custody.assertions.get('store', ['unsigned-line'])).toBeUndefined();
  });

  it('a session of a model disabled since: refused with the refresh header, and the new session request says why', async () => {
    const m = await modelFor(tv, 'demo-brand', 'retired-model', 'demo-brand');
    const d = await registerTestDevice(tv, m.model, m.apiKey);
    const client = d.client();
    const token = await client.newSession();
    await tv.vault.db('models').where({ name: 'retired-model' }).update({ enabled: false });
    const res = await fetch(`${tv.storeUrl}v2/snaps/info/brand-snap`, { headers: { 'Snap-Device-Authorization': `Macaroon root="${token}"` } });
    expect([res.status, res.headers.get('www-authenticate')]).toEqual([401, 'Macaroon refresh_device_session=1']);
    await expect(client.newSession()).rejects.toThrow(/retired-model is disabled/);
  });
});
