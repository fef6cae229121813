import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { decodeAssertion } from '../../src/assertions/index.js';
import type { StoreClient } from '../../src/cli/store-client.js';
import { publish, registerTestDevice, startStoreVault, type StoreTestVault, type TestDevice } from '../support/store.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

type Json = Record<string, unknown>;

/**
 * One test per item of the trap list in STORE.md §9. The store runs under a
 * path prefix here (/store/), as behind a proxy (item 13).
 */
describe('the trap list of STORE.md §9', () => {
  let dir: string;
  let tv: StoreTestVault;
  let device: TestDevice;
  let client: StoreClient;
  let token: string;
  let snapId: string;

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${tv.storeUrl}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Snap-Device-Authorization': `Macaroon root="${token}"`, ...headers }, body: JSON.stringify(body) });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${tv.storeUrl}${path}`, { headers: { 'X-Device-Authorization': `Macaroon root="${token}"`, ...headers } });
  const install = (extra: Json = {}) => ({ action: 'install', 'instance-key': 'install-1', name: 'trap-snap', epoch: null, ...extra });
  const actions = async (body: unknown, headers: Record<string, string> = {}) => {
    const res = await post('v2/snaps/refresh', body, headers);
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: Json[] }).results;
  };

  beforeAll(async () => {
    dir = testDataDir();
    tv = await startStoreVault(dir, { store: { basePath: '/store/' } });
    await publish(tv, dir, { name: 'trap-snap', yaml: { architectures: ['amd64', 'arm64'] } });
    device = await registerTestDevice(tv);
    client = device.client();
    token = await client.newSession();
    snapId = (await tv.vault.snaps.visible('demo-brand')).find((s) => s.name === 'trap-snap')?.snapId as string;
  }, 180_000);
  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  it('1. nonces and sessions are served, with a non-empty nonce and session, before anything else', async () => {
    const nonce = await fetch(`${tv.storeUrl}api/v1/snaps/auth/nonces`, { method: 'POST', headers: { Accept: 'application/json' } });
    expect(nonce.status).toBe(200);
    expect(((await nonce.json()) as { nonce: string }).nonce).not.toBe('');
    expect(token).not.toBe('');
  });

  it('2. an unknown or expired session gets 401 with WWW-Authenticate: Macaroon refresh_device_session=1, never a bare 401', async () => {
    for (const [path, headers] of [
      ['v2/snaps/info/trap-snap', { 'Snap-Device-Authorization': 'Macaroon root="not-a-session"' }],
      ['v2/assertions/account/demo-brand', { 'X-Device-Authorization': 'Macaroon root="not-a-session"' }],
      [`download/snaps/${snapId}_1.snap`, { 'X-Device-Authorization': 'Macaroon root="not-a-session"' }],
    ] as const) {
      const res = await fetch(`${tv.storeUrl}${path}`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Macaroon refresh_device_session=1');
    }
    const res = await post('v2/snaps/refresh', { context: [], actions: [install()] }, { 'Snap-Device-Authorization': 'Macaroon root="sv1-expired-or-forged"' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('refresh_device_session=1');
  });

  it('3. both header families: Snap-Device-* on v2 calls, X-Ubuntu-* and X-Device-Authorization on downloads and assertions', async () => {
    const v2 = await actions({ context: [], actions: [install({ channel: 'stable' })] }, { 'Snap-Device-Architecture': 'arm64' });
    expect(v2[0]).toMatchObject({ result: 'install' });
    const url = ((v2[0]?.['snap'] as Json)['download'] as { url: string }).url;
    const file = await fetch(url, { headers: { 'X-Device-Authorization': `Macaroon root="${token}"`, 'X-Ubuntu-Architecture': 'arm64', Accept: '' } });
    expect(file.status).toBe(200);
    await file.arrayBuffer();
    const decl = await get(`v2/assertions/snap-declaration/16/${snapId}`, { Accept: 'application/x.ubuntu.assertion', 'X-Ubuntu-Series': '16' });
    expect(decl.status).toBe(200);
    // The architecture header picks what is offered: nothing for riscv64.
    const none = await actions({ context: [], actions: [install({ channel: 'stable' })] }, { 'Snap-Device-Architecture': 'riscv64' });
    expect(none[0]).toMatchObject({ result: 'error', error: { code: 'revision-not-found' } });
  });

  it('4. name, snap-id and revision inside snap, instance-key echoed; install and download errors carry name', async () => {
    const [ok] = await actions({ context: [], actions: [install({ channel: 'stable' })] });
    expect(ok).toMatchObject({ 'instance-key': 'install-1', snap: { name: 'trap-snap', 'snap-id': snapId, revision: 1 } });
    const errs = await actions({ context: [], actions: [install({ name: 'no-such-snap', channel: 'stable' }), { action: 'download', 'instance-key': 'download-1', name: 'no-such-snap', channel: 'stable', epoch: null }] });
    expect(errs).toEqual([
      expect.objectContaining({ result: 'error', 'instance-key': 'install-1', name: 'no-such-snap', error: expect.objectContaining({ code: 'name-not-found' }) }),
      expect.objectContaining({ result: 'error', 'instance-key': 'download-1', name: 'no-such-snap', error: expect.objectContaining({ code: 'name-not-found' }) }),
    ]);
    const [refresh] = await actions({ context: [{ 'snap-id': 'A'.repeat(32), 'instance-key': 'A'.repeat(32), revision: 1, 'tracking-channel': 'latest/stable', epoch: { read: [0], write: [0] } }], actions: [{ action: 'refresh', 'instance-key': 'A'.repeat(32), 'snap-id': 'A'.repeat(32) }] });
    expect(refresh).toMatchObject({ result: 'error', 'instance-key': 'A'.repeat(32), error: { code: 'id-not-found' } });
  });

  it('5. download.sha3-384 is hex; the snap-revision key is the same digest as unpadded base64url', async () => {
    const [r] = await actions({ context: [], actions: [install({ channel: 'stable' })] });
    const hex = (((r?.['snap'] as Json)['download'] as Json)['sha3-384']) as string;
    expect(hex).toMatch(/^[0-9a-f]{96}$/);
    const b64 = Buffer.from(hex, 'hex').toString('base64url');
    expect(b64).toMatch(/^[A-Za-z0-9_-]{64}$/);
    const res = await get(`v2/assertions/snap-revision/${b64}`);
    expect(res.status).toBe(200);
    const rev = decodeAssertion(Buffer.from(await res.arrayBuffer()));
    expect(rev.headerString('snap-sha3-384')).toBe(b64);
  });

  it('6. find answers exactly application/json; a missing assertion is 404 application/problem+json with error-list[0].code not-found', async () => {
    const find = await fetch(`${tv.storeUrl}v2/snaps/find?q=trap&architecture=amd64&fields=name,channel`, { headers: { 'Snap-Device-Authorization': `Macaroon root="${token}"` } });
    expect(find.status).toBe(200);
    expect(find.headers.get('content-type')).toBe('application/json');
    const found = (await find.json()) as { results: Json[] };
    expect(found.results).toEqual([expect.objectContaining({ name: 'trap-snap', 'snap-id': snapId, revision: expect.objectContaining({ channel: 'stable', revision: 1 }) })]);
    const info = await fetch(`${tv.storeUrl}v2/snaps/info/trap-snap?architecture=amd64`, { headers: { 'Snap-Device-Authorization': `Macaroon root="${token}"`, Accept: '' } });
    expect(info.headers.get('content-type')).toBe('application/json');
    const body = (await info.json()) as { 'channel-map': Json[] };
    expect(body['channel-map'][0]).toMatchObject({ revision: 1, version: '1.0', channel: { architecture: 'amd64', name: 'stable', track: 'latest', risk: 'stable' } });
    for (const path of ['v2/assertions/snap-declaration/16/' + 'B'.repeat(32), 'v2/assertions/serial/demo-brand/demo-model/1', 'v2/assertions/account/nobody']) {
      const missing = await get(path);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toBe('application/problem+json');
      expect(((await missing.json()) as { 'error-list': Json[] })['error-list'][0]).toMatchObject({ code: 'not-found' });
    }
  });

  it("7. snap-yaml in action results is the file's own meta/snap.yaml", async () => {
    const [r] = await actions({ context: [], actions: [install({ channel: 'stable' })] });
    const snap = r?.['snap'] as Json;
    const revision = (await tv.vault.snaps.status(OPERATOR, 'demo-brand', 'trap-snap')).revisions[0];
    const yaml = execFileSync('unsquashfs', ['-cat', tv.vault.snaps.blobs.pathOf(revision?.sha3_384 as string), 'meta/snap.yaml'], { encoding: 'utf8' });
    expect(snap['snap-yaml']).toBe(yaml);
  });

  it('8. unknown request fields are ignored, never a 400', async () => {
    const results = await actions({
      context: [{ 'snap-id': snapId, 'instance-key': snapId, revision: 1, 'tracking-channel': 'stable', epoch: { read: [0], write: [0] }, held: { by: ['system'] }, 'validation-sets': [['16', 'acct', 'set']], 'cohort-key': 'x', 'something-new': true }],
      actions: [{ action: 'refresh', 'instance-key': snapId, 'snap-id': snapId, 'ignore-validation': true, 'brand-new-field': 1 }, install({ channel: 'stable', 'also-new': [1, 2] })],
      fields: ['name', 'not-a-field'],
      'assertion-max-formats': { 'snap-declaration': 6 },
      'future-top-level': {},
    });
    expect(results.map((r) => r['result'])).toEqual(['install']);
  });

  it('9. download URLs are absolute, under the public URL', async () => {
    const [r] = await actions({ context: [], actions: [install({ channel: 'stable' })] });
    const url = new URL((((r?.['snap'] as Json)['download'] as Json)['url']) as string);
    expect(url.href.startsWith(tv.storeUrl)).toBe(true);
    expect(url.protocol).toBe('http:');
  });

  it('10. assertions re-fetched on every install answer the same bytes (the store assertion is signed once)', async () => {
    const a = await (await get('v2/assertions/store/demo-brand')).text();
    const b = await (await get('v2/assertions/store/demo-brand')).text();
    expect(a).toBe(b);
    expect(decodeAssertion(Buffer.from(a)).headerString('operator-id')).toBe('demo-brand');
    const d1 = await (await get(`v2/assertions/snap-declaration/16/${snapId}?max-format=6`)).text();
    expect(await (await get(`v2/assertions/snap-declaration/16/${snapId}?max-format=6`)).text()).toBe(d1);
  });

  it('11. channel and revision together in one action are a revision-conflict result, not a 400', async () => {
    const [r] = await actions({ context: [], actions: [install({ channel: 'stable', revision: 1 })] });
    expect(r).toMatchObject({ result: 'error', name: 'trap-snap', error: { code: 'revision-conflict' } });
    const [byRevision] = await actions({ context: [], actions: [install({ revision: 1 })] });
    expect(byRevision).toMatchObject({ result: 'install', snap: { revision: 1 } });
    expect(byRevision?.['effective-channel']).toBeUndefined();
  });

  it('12. a refresh with no update gets no result for that snap', async () => {
    const results = await actions({ context: [{ 'snap-id': snapId, 'instance-key': snapId, revision: 1, 'tracking-channel': 'latest/stable', epoch: { read: [0], write: [0] } }], actions: [{ action: 'refresh', 'instance-key': snapId, 'snap-id': snapId }] });
    expect(results).toEqual([]);
  });

  it('13. under a path prefix everything is served below it, and URLs made by the store keep it', async () => {
    expect(tv.storeUrl).toMatch(/\/store\/$/);
    const outside = await fetch(new URL('/v2/snaps/find?q=trap', tv.storeUrl));
    expect(outside.status).toBe(404);
    const [r] = await actions({ context: [], actions: [{ action: 'fetch-assertions', key: 'g1', assertions: [{ type: 'snap-declaration', 'primary-key': ['16', snapId] }] }] });
    expect(r).toMatchObject({ result: 'fetch-assertions', key: 'g1', 'assertion-stream-urls': [`${tv.storeUrl}v2/assertions/snap-declaration/16/${snapId}`] });
    const unchanged = await actions({ context: [], actions: [{ action: 'fetch-assertions', key: 'g1', assertions: [{ type: 'snap-declaration', 'primary-key': ['16', snapId], 'if-newer-than': 99 }] }] });
    expect(unchanged).toEqual([]);
  });

  it('fetch-assertions: stream URLs carry the max-format asked for, and a missing assertion does not hold back the found ones', async () => {
    const [r] = await actions({
      context: [],
      actions: [{ action: 'fetch-assertions', key: 'g2', assertions: [{ type: 'snap-declaration', 'primary-key': ['16', snapId] }, { type: 'snap-declaration', 'primary-key': ['16', 'C'.repeat(32)] }] }],
      'assertion-max-formats': { 'snap-declaration': 6, 'account-key': 1 },
    });
    // snapd skips a result's URLs when it carries an error-list.
    expect(r).toEqual({ result: 'fetch-assertions', key: 'g2', 'assertion-stream-urls': [`${tv.storeUrl}v2/assertions/snap-declaration/16/${snapId}?max-format=6`] });
    const [missing] = await actions({ context: [], actions: [{ action: 'fetch-assertions', key: 'g3', assertions: [{ type: 'snap-declaration', 'primary-key': ['16', 'C'.repeat(32)] }] }] });
    expect(missing).toMatchObject({ result: 'fetch-assertions', key: 'g3', 'error-list': [{ code: 'not-found', type: 'snap-declaration', 'primary-key': ['16', 'C'.repeat(32)] }] });
  });

  it('a refresh to a revision that cannot read the installed epoch is no update', async () => {
    await publish(tv, dir, { name: 'epoch-snap' });
    const id = (await tv.vault.snaps.visible('demo-brand')).find((s) => s.name === 'epoch-snap')?.snapId as string;
    await publish(tv, dir, { name: 'epoch-snap', version: '2.0', yaml: { epoch: '2' } });
    const refresh = (epoch: unknown) => actions({ context: [{ 'snap-id': id, 'instance-key': id, revision: 1, 'tracking-channel': 'latest/stable', epoch }], actions: [{ action: 'refresh', 'instance-key': id, 'snap-id': id }] });
    expect(await refresh({ read: [0], write: [0] })).toEqual([]);
    expect((await refresh({ read: [2], write: [2] }))[0]).toMatchObject({ result: 'refresh', snap: { revision: 2, epoch: { read: [2], write: [2] } } });
  });

  it('find leaves out what the device cannot install (confinement=strict on Core) and info leaves out branches', async () => {
    const strict = await fetch(`${tv.storeUrl}v2/snaps/find?q=trap&confinement=strict`, { headers: { 'Snap-Device-Authorization': `Macaroon root="${token}"` } });
    expect(((await strict.json()) as { results: Json[] }).results.map((r) => r['name'])).toEqual(['trap-snap']);
    const classic = await fetch(`${tv.storeUrl}v2/snaps/find?q=trap&confinement=classic`, { headers: { 'Snap-Device-Authorization': `Macaroon root="${token}"` } });
    expect(((await classic.json()) as { results: Json[] }).results).toEqual([]);
    await tv.vault.snaps.release(OPERATOR, 'demo-brand', 'trap-snap', [{ revision: 1, channel: 'stable/hotfix' }]);
    const info = (await (await fetch(`${tv.storeUrl}v2/snaps/info/trap-snap?architecture=amd64`, { headers: { 'Snap-Device-Authorization': `Macaroon root="${token}"` } })).json()) as { 'channel-map': Array<{ channel: Json }> };
    expect(info['channel-map'].map((e) => e.channel['name'])).toEqual(['stable']);
  });
});
