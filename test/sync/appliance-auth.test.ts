import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_ACTOR } from '../../src/audit/unit-of-work.js';
import { sendSyncJson, type SyncRoute } from '../../src/http/sync-app.js';
import type { KeyStore } from '../../src/keystore/keystore.js';
import { NodeSigner } from '../../src/assertions/index.js';
import { ApplianceAuth } from '../../src/sync/appliance-auth.js';
import { UpstreamClient } from '../../src/sync/upstream-client.js';
import { removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';
import { enrolBody, errorCode, get, nodeAppliance, post, signChallenge, startSyncCentral, type NodeAppliance, type SyncCentral } from './enrol-fixtures.js';

describe.each<DatabaseKind>(['sqlite', 'pg'])('appliance sync authentication at central (%s)', (kind) => {
  const dir = testDataDir();
  let central: TestVault;
  let sync: SyncCentral;
  let keys: NodeAppliance;
  let flaky = 0;
  let refused = 0;

  const session = async (nonce?: string) => {
    const n = nonce ?? ((await post(sync.url, 'sync/v1/nonces', {})).body['nonce'] as string);
    return post(sync.url, 'sync/v1/sessions', { appliance: 'line-a', nonce: n, signature: signChallenge(keys.identity, n) });
  };

  beforeAll(async () => {
    central = await startTestVault(join(dir, 'central'), kind);
    const extra: SyncRoute[] = [
      // Fails twice with 503, then answers: the client's retry policy carries it through.
      { name: 'flaky', method: 'GET', path: /^flaky$/, authenticated: true, handle: async (ctx) => (++flaky <= 2 ? sendSyncJson(ctx, 503, { error: { code: 'ERR_DATABASE_UNAVAILABLE', message: 'later' } }) : sendSyncJson(ctx, 200, { ok: true })) },
      { name: 'refused', method: 'GET', path: /^refused$/, authenticated: true, handle: async (ctx) => (++refused, sendSyncJson(ctx, 409, { error: { code: 'ERR_SYNC_OUT_OF_ORDER', message: 'no' } })) },
    ];
    sync = await startSyncCentral(central, { extra });
    keys = await nodeAppliance();
    const { token } = await sync.appliances.add('line-a', 'demo-brand', OPERATOR_ACTOR);
    await sync.enrolment.enrol(await enrolBody(keys, token, 'line-a', 'demo-brand'));
  }, 120_000);

  afterAll(async () => {
    await sync?.close();
    await central?.close();
    removeDataDir(dir);
  });

  it('exchanges a nonce signed by the identity key for a token that authenticates later calls', async () => {
    const opened = await session();
    expect(opened.status).toBe(200);
    const me = await get(sync.url, 'sync/v1/whoami', opened.body['token'] as string);
    expect(me.status).toBe(200);
    const brand = (await central.vault.custody.brands.byAccountId('demo-brand'))!;
    expect(me.body).toMatchObject({ name: 'line-a', storeId: 'demo-brand', brandId: brand.id, brandAccountId: 'demo-brand' });
  });

  it('refuses a forged signature, and a signature by another key', async () => {
    const nonce = (await post(sync.url, 'sync/v1/nonces', {})).body['nonce'] as string;
    const other = await nodeAppliance();
    for (const signature of [Buffer.alloc(256, 7).toString('base64'), signChallenge(other.identity, nonce), signChallenge(keys.identity, `${nonce}x`)]) {
      const res = await post(sync.url, 'sync/v1/sessions', { appliance: 'line-a', nonce, signature });
      expect(res.status).toBe(401);
      expect(errorCode(res.body)).toBe('ERR_APPLIANCE_AUTH');
    }
    const unknown = await post(sync.url, 'sync/v1/sessions', { appliance: 'nobody', nonce, signature: signChallenge(keys.identity, nonce) });
    expect(errorCode(unknown.body)).toBe('ERR_APPLIANCE_AUTH');
  });

  it('refuses a replayed nonce, and one central never handed out', async () => {
    const nonce = (await post(sync.url, 'sync/v1/nonces', {})).body['nonce'] as string;
    expect((await session(nonce)).status).toBe(200);
    const replay = await session(nonce);
    expect(replay.status).toBe(401);
    expect(errorCode(replay.body)).toBe('ERR_SYNC_NONCE_INVALID');
    expect(errorCode((await session('made-up-nonce')).body)).toBe('ERR_SYNC_NONCE_INVALID');
  });

  it('refuses an unknown, a missing and an expired token', async () => {
    expect(errorCode((await get(sync.url, 'sync/v1/whoami', 'svs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')).body)).toBe('ERR_APPLIANCE_AUTH');
    const none = await get(sync.url, 'sync/v1/whoami');
    expect(none.status).toBe(401);
    expect(errorCode(none.body)).toBe('ERR_APPLIANCE_AUTH');
    const token = (await session()).body['token'] as string;
    const later = new ApplianceAuth(central.vault.db, { tokenMinutes: 15, clock: () => new Date(Date.now() + 16 * 60_000) });
    await expect(later.authenticate(token)).rejects.toMatchObject({ code: 'ERR_APPLIANCE_AUTH' });
  });

  it('refuses a disabled appliance at once, on a token it already holds, and lets it in again once enabled', async () => {
    const token = (await session()).body['token'] as string;
    expect((await get(sync.url, 'sync/v1/whoami', token)).status).toBe(200);
    await sync.appliances.disable('line-a', OPERATOR_ACTOR);
    // The token it already holds is refused on the very next call: the row is read every time, never cached.
    const refusedNow = await get(sync.url, 'sync/v1/whoami', token);
    expect(refusedNow.status).toBe(403);
    expect(errorCode(refusedNow.body)).toBe('ERR_APPLIANCE_DISABLED');
    const again = await session();
    expect(again.status).toBe(403);
    expect(errorCode(again.body)).toBe('ERR_APPLIANCE_DISABLED');
    await sync.appliances.enable('line-a', OPERATOR_ACTOR);
    expect((await get(sync.url, 'sync/v1/whoami', (await session()).body['token'] as string)).status).toBe(200);
  });

  it('refuses a body larger than the sync listener takes, with 413', async () => {
    const res = await post(sync.url, 'sync/v1/sessions', { appliance: 'line-a', nonce: 'n', signature: 'A'.repeat(100 * 1024) });
    expect(res.status).toBe(413);
    expect(errorCode(res.body)).toBe('ERR_BODY_TOO_LARGE');
  });

  it('gives the appliance client a token by signing a nonce, renews it once when central forgets it, and retries only faults that may pass', async () => {
    const signer = new NodeSigner(keys.identity);
    const keystore = { signDigest: (_label: string, digest: Uint8Array) => signer.signDigest(digest) } as unknown as KeyStore;
    const client = new UpstreamClient({ url: sync.url, timeoutMs: 5000, sleep: async () => undefined }, { name: 'line-a', label: 'appliance-line-a-identity', keystore });
    expect(await client.request('GET', '/sync/v1/whoami')).toMatchObject({ name: 'line-a' });
    await central.vault.db('sync_tokens').delete();
    expect(await client.request('GET', 'whoami')).toMatchObject({ name: 'line-a' });
    expect(await client.request('GET', 'flaky')).toEqual({ ok: true });
    expect(flaky).toBe(3);
    await expect(client.request('GET', 'refused')).rejects.toMatchObject({ code: 'ERR_SYNC_OUT_OF_ORDER' });
    expect(refused).toBe(1);
    await sync.appliances.disable('line-a', OPERATOR_ACTOR);
    await expect(client.request('GET', 'whoami')).rejects.toMatchObject({ code: 'ERR_APPLIANCE_DISABLED' });
    await sync.appliances.enable('line-a', OPERATOR_ACTOR);
    const offline = new UpstreamClient({ url: 'http://127.0.0.1:1/', timeoutMs: 2000, sleep: async () => undefined, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
    await expect(offline.post('enrol/preview', {})).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
  });
});
