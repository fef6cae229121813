import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSnap, refreshSnaps, type DeviceState } from '../../src/cli/device-install.js';
import type { StoreClient } from '../../src/cli/store-client.js';
import { publish, registerTestDevice, startStoreVault, type StoreTestVault, type TestDevice } from '../support/store.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

/**
 * A device's life with the store, end to end on loopback: registration
 * with the device API, then session, install, refresh with nothing new,
 * refresh to a new revision, a download resumed after a cut connection,
 * and a session renewed after it expired, each step checked against the
 * statuses, headers and fields of STORE.md.
 */
describe('a registered device installs and refreshes from the store', () => {
  let dir: string;
  let tv: StoreTestVault;
  let device: TestDevice;
  let client: StoreClient;
  let token: string;
  const state: DeviceState = { snaps: {} };
  const deviceDir = () => join(dir, 'device');

  beforeAll(async () => {
    dir = testDataDir();
    // Sessions last two seconds here, so that one can expire within the test.
    tv = await startStoreVault(dir, { store: { sessionHours: 2 / 3600 } });
    await publish(tv, dir, { name: 'hello-store', payloadBytes: 3 * 1024 * 1024 });
    device = await registerTestDevice(tv);
    client = device.client();
  }, 180_000);
  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  it('gets a nonce (200, {"nonce"}) and a session (200, {"macaroon"}), exactly application/json', async () => {
    token = await client.newSession();
    const [nonce, session] = device.exchanges.slice(-2);
    expect(nonce).toMatchObject({ method: 'POST', url: `${tv.storeUrl}api/v1/snaps/auth/nonces`, status: 200 });
    expect(nonce?.headers['content-type']).toBe('application/json');
    expect(session).toMatchObject({ method: 'POST', url: `${tv.storeUrl}api/v1/snaps/auth/sessions`, status: 200 });
    expect(token).toMatch(/^[^"]{20,}$/);
  });

  it('installs: the action result carries name, snap-id and revision inside snap, the instance-key, snap-yaml and an absolute download URL', async () => {
    const res = await fetch(`${tv.storeUrl}v2/snaps/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Snap-Device-Authorization': `Macaroon root="${token}"`, 'Snap-Device-Architecture': 'amd64', 'Snap-Device-Store': 'demo-brand' },
      body: JSON.stringify({ context: [], actions: [{ action: 'install', 'instance-key': 'install-1', name: 'hello-store', channel: 'stable', epoch: null }], fields: ['snap-yaml'] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read as snapd reads it, field by field
    const { results } = (await res.json()) as { results: Array<Record<string, any>> };
    expect(results).toHaveLength(1);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    const [r] = results as [Record<string, any>];
    expect(r).toMatchObject({ result: 'install', 'instance-key': 'install-1', name: 'hello-store', 'effective-channel': 'latest/stable' });
    expect(r.snap).toMatchObject({ name: 'hello-store', revision: 1, type: 'app', version: '1.0', epoch: { read: [0], write: [0] }, confinement: 'strict' });
    expect(r.snap['snap-id']).toHaveLength(32);
    expect(r.snap['snap-yaml']).toContain('name: hello-store');
    expect(r.snap.download['sha3-384']).toMatch(/^[0-9a-f]{96}$/);
    expect(r.snap.download.url).toBe(`${tv.storeUrl}download/snaps/${r.snap['snap-id']}_1.snap`);

    const installed = await installSnap(client, { name: 'hello-store', dir: deviceDir(), model: device.model, trusted: tv.trusted });
    state.snaps['hello-store'] = { snapId: installed.snapId, revision: installed.revision, channel: installed.channel, type: 'app' };
    expect(installed).toMatchObject({ name: 'hello-store', revision: 1, channel: 'latest/stable' });
    expect(installed.assertions.map((a) => a.type)).toEqual(expect.arrayContaining(['snap-revision', 'snap-declaration', 'account', 'account-key', 'store']));
    const file = readFileSync(installed.file);
    expect(createHash('sha3-384').update(file).digest('hex')).toBe(r.snap.download['sha3-384']);
    expect(file.length).toBe(r.snap.download.size);
    // Downloads and assertion fetches go out at v1 level (X-Device-Authorization) and are answered 200.
    const download = device.exchanges.find((e) => e.url.includes('/download/snaps/'));
    expect(download).toMatchObject({ status: 200 });
    expect(download?.headers['accept-ranges']).toBe('bytes');
    const revision = device.exchanges.find((e) => e.url.includes('/v2/assertions/snap-revision/'));
    expect(revision).toMatchObject({ status: 200 });
    expect(revision?.headers['content-type']).toBe('application/x.ubuntu.assertion');
  });

  it('refreshes with nothing new: no result for the snap ({"results": []})', async () => {
    const before = device.exchanges.length;
    const { updated, current } = await refreshSnaps(client, state, { dir: deviceDir(), model: device.model, trusted: tv.trusted });
    expect(updated).toEqual([]);
    expect(current).toEqual(['hello-store']);
    const action = device.exchanges.slice(before).find((e) => e.url.endsWith('/v2/snaps/refresh'));
    expect(action).toMatchObject({ status: 200 });
    const raw = await client.snapAction([{ 'snap-id': state.snaps['hello-store']?.snapId, 'instance-key': state.snaps['hello-store']?.snapId, revision: 1, 'tracking-channel': 'latest/stable', epoch: { read: [0], write: [0] } }], [{ action: 'refresh', 'instance-key': state.snaps['hello-store']?.snapId, 'snap-id': state.snaps['hello-store']?.snapId }]);
    expect(raw).toEqual([]);
  });

  it('refreshes to a newly released revision', async () => {
    await publish(tv, dir, { name: 'hello-store', version: '2.0', payloadBytes: 3 * 1024 * 1024 });
    const { updated } = await refreshSnaps(client, state, { dir: deviceDir(), model: device.model, trusted: tv.trusted });
    expect(updated.map((u) => [u.name, u.revision])).toEqual([['hello-store', 2]]);
    state.snaps['hello-store'] = { ...(state.snaps['hello-store'] as DeviceState['snaps'][string]), revision: 2 };
    expect(existsSync(join(deviceDir(), 'hello-store_2.snap'))).toBe(true);
    expect(existsSync(join(deviceDir(), 'hello-store_2.assert'))).toBe(true);
  });

  it('resumes a download cut short: Range bytes=N- answered 206 with Content-Range, and the file checks', async () => {
    const [r] = await client.snapAction([], [{ action: 'download', 'instance-key': 'download-1', name: 'hello-store', channel: 'stable', epoch: null }]);
    const snap = r?.['snap'] as { download: { url: string; 'sha3-384': string; size: number } };
    // A real connection, cut after the first megabyte arrived.
    const abort = new AbortController();
    // Sessions last two seconds here: a fresh one, so that a slow machine does not cut this request with a 401 instead.
    token = await client.newSession();
    const res = await fetch(snap.download.url, { headers: { 'X-Device-Authorization': `Macaroon root="${token}"` }, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const got: Uint8Array[] = [];
    let n = 0;
    while (n < 1024 * 1024) {
      const { value } = await reader.read();
      if (!value) break;
      got.push(value);
      n += value.length;
    }
    abort.abort();
    const target = join(dir, 'resumed.snap');
    writeFileSync(`${target}.partial`, Buffer.concat(got));
    const before = device.exchanges.length;
    await client.download(snap.download.url, snap.download['sha3-384'], target);
    const resumed = device.exchanges.slice(before).find((e) => e.url === snap.download.url);
    expect(resumed?.status).toBe(206);
    expect(resumed?.headers['content-range']).toBe(`bytes ${n}-${snap.download.size - 1}/${snap.download.size}`);
    expect(readFileSync(target).length).toBe(snap.download.size);
  });

  it('renews an expired session: 401 with WWW-Authenticate refresh_device_session=1, then nonce, session and the request again', async () => {
    await new Promise((r) => setTimeout(r, 2500));
    const before = device.exchanges.length;
    const { current } = await refreshSnaps(client, state, { dir: deviceDir(), model: device.model, trusted: tv.trusted });
    expect(current).toEqual(['hello-store']);
    const seen = device.exchanges.slice(before).map((e) => [e.url.slice(tv.storeUrl.length), e.status, e.headers['www-authenticate'] ?? '']);
    expect(seen).toEqual([
      ['v2/snaps/refresh', 401, 'Macaroon refresh_device_session=1'],
      ['api/v1/snaps/auth/nonces', 200, ''],
      ['api/v1/snaps/auth/sessions', 200, ''],
      ['v2/snaps/refresh', 200, ''],
    ]);
  });

  it('logs and counts what devices ask for, by store and model', async () => {
    const text = await tv.vault.metrics.registry.getSingleMetricAsString('serial_vault_store_requests_total');
    expect(text).toMatch(/endpoint="snap-action",store="demo-brand",model="demo-brand\/demo-model",outcome="ok"/);
    expect(text).toMatch(/outcome="ERR_DEVICE_SESSION_INVALID"/);
    const snaps = await tv.vault.metrics.registry.getSingleMetricAsString('serial_vault_store_snaps_total');
    expect(snaps).toMatch(/store="demo-brand",snap="hello-store",result="install"/);
    expect(tv.logs()).toContain('"endpoint":"download"');
    expect(tv.logs()).not.toContain(token);
  });
});
