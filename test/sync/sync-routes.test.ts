import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_ACTOR } from '../../src/audit/unit-of-work.js';
import type { ConfigInput } from '../../src/config.js';
import type { Listening } from '../../src/listeners.js';
import { serveSync } from '../../src/sync-listener.js';
import type { CentralSync } from '../../src/sync/service.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';
import { enrolBody, errorCode, nodeAppliance, post, signChallenge, type NodeAppliance } from './enrol-fixtures.js';

/** Every route of the production sync listener, with what an attacker or a confused appliance would send it. */
describe('bad input on every sync route', () => {
  const dir = testDataDir();
  let central: TestVault;
  let sync: CentralSync;
  let listener: Listening;
  let keys: NodeAppliance;
  let token: string;

  const call = async (method: 'GET' | 'POST', path: string, body?: unknown, auth: string | null = token) => {
    const res = await fetch(new URL(path, listener.url), {
      method,
      headers: { ...(auth ? { authorization: `Appliance ${auth}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text.startsWith('{') && !text.includes('\n{') ? (JSON.parse(text) as Record<string, unknown>) : { text };
    } catch {
      parsed = { text };
    }
    return { status: res.status, body: parsed };
  };
  const row = (seq: number, serial: string) => ({ seq, brandId: 'demo-brand', model: 'demo-model', serial, deviceKeyId: `dk-${serial}`, signingKeyId: 'k1', outcome: 'issued', issuedAt: '2026-12-01T00:00:00Z' });

  beforeAll(async () => {
    central = await startTestVault(join(dir, 'central'), 'sqlite', { sync: { port: 0 } as ConfigInput['sync'] });
    if (central.vault.sync.role !== 'central') throw new Error('expected central');
    sync = central.vault.sync;
    listener = await serveSync(central.vault, sync);
    keys = await nodeAppliance();
    const added = await sync.appliances.add('line-r', 'demo-brand', OPERATOR_ACTOR);
    const enrolled = await post(listener.url, 'sync/v1/enrol', await enrolBody(keys, added.token, 'line-r', 'demo-brand'));
    expect(enrolled.status).toBe(201);
    // A replayed enrolment: the token was spent.
    expect(errorCode((await post(listener.url, 'sync/v1/enrol', await enrolBody(keys, added.token, 'line-r', 'demo-brand'))).body)).toBe('ERR_ENROLMENT_TOKEN_INVALID');
    const nonce = (await post(listener.url, 'sync/v1/nonces', {})).body['nonce'] as string;
    const session = await post(listener.url, 'sync/v1/sessions', { appliance: 'line-r', nonce, signature: signChallenge(keys.identity, nonce) });
    token = session.body['token'] as string;
    expect(token).toBeTruthy();
  }, 120_000);

  afterAll(async () => {
    await listener?.close();
    await central?.close();
    removeDataDir(dir);
  });

  it('refuses a forged appliance signature and a replayed nonce', async () => {
    const nonce = (await post(listener.url, 'sync/v1/nonces', {})).body['nonce'] as string;
    const other = await nodeAppliance();
    expect((await post(listener.url, 'sync/v1/sessions', { appliance: 'line-r', nonce, signature: signChallenge(other.identity, nonce) })).status).toBe(401);
    const fresh = (await post(listener.url, 'sync/v1/nonces', {})).body['nonce'] as string;
    expect((await post(listener.url, 'sync/v1/sessions', { appliance: 'line-r', nonce: fresh, signature: signChallenge(keys.identity, fresh) })).status).toBe(200);
    expect(errorCode((await post(listener.url, 'sync/v1/sessions', { appliance: 'line-r', nonce: fresh, signature: signChallenge(keys.identity, fresh) })).body)).toBe('ERR_SYNC_NONCE_INVALID');
  });

  it.each([
    ['GET', 'sync/v1/snapshot'],
    ['GET', 'sync/v1/changes?after=0'],
    ['GET', `sync/v1/blobs/${'A'.repeat(64)}`],
    ['POST', 'sync/v1/push'],
    ['POST', 'sync/v1/leases'],
  ] as const)('refuses %s %s without a token, or with a forged one', async (method, path) => {
    const body = method === 'POST' ? {} : undefined;
    expect((await call(method, path, body, null)).status).toBe(401);
    const forged = await call(method, path, body, randomBytes(32).toString('base64url'));
    expect(forged.status).toBe(401);
    expect(errorCode(forged.body)).toBe('ERR_APPLIANCE_AUTH');
  });

  it('refuses a cursor from the future, and a cursor that is not a number', async () => {
    const head = await sync.feed.head();
    const ahead = await call('GET', `sync/v1/changes?after=${head + 10}`);
    expect(ahead.status).toBe(409);
    expect(errorCode(ahead.body)).toBe('ERR_SYNC_CURSOR_AHEAD');
    expect((await call('GET', 'sync/v1/changes?after=-1')).status).toBe(400);
    expect((await call('GET', 'sync/v1/changes?after=1e400')).status).toBe(400);
    expect((await call('GET', 'sync/v1/changes')).status).toBe(400);
    expect((await call('GET', `sync/v1/changes?after=${head}&wait=0`)).status).toBe(200);
  });

  it('takes a replayed push once, refuses an out-of-order batch with the sequence it expects, and a malformed one', async () => {
    const batch = { kind: 'issuance', after: 0, rows: [row(1, 'R-1'), row(2, 'R-2')] };
    expect((await call('POST', 'sync/v1/push', batch)).body).toMatchObject({ acked: 2, duplicates: 0 });
    expect((await call('POST', 'sync/v1/push', batch)).body).toMatchObject({ acked: 2, duplicates: 2 });
    const gap = await call('POST', 'sync/v1/push', { kind: 'issuance', after: 5, rows: [row(6, 'R-6')] });
    expect(gap.status).toBe(409);
    expect(gap.body['error']).toMatchObject({ code: 'ERR_SYNC_OUT_OF_ORDER', detail: { expected: 2 } });
    const bad = await call('POST', 'sync/v1/push', { kind: 'issuance', after: 2, rows: [{ ...row(3, 'R-3'), serial: '' }] });
    expect(bad.status).toBe(400);
    expect((await call('POST', 'sync/v1/push', '{"kind":')).status).toBe(400);
    expect(Number(((await central.vault.db('issuance_log').where({ origin: 'appliance:line-r' }).count({ n: '*' }).first()) as { n: unknown }).n)).toBe(2);
  });

  it('refuses an oversized body with 413 before reading it', async () => {
    const huge = { kind: 'issuance', after: 2, rows: Array.from({ length: 40_000 }, (_, i) => row(3 + i, `BIG-${i}-${'x'.repeat(100)}`)) };
    const res = await call('POST', 'sync/v1/push', huge);
    expect(res.status).toBe(413);
    expect(errorCode(res.body)).toBe('ERR_BODY_TOO_LARGE');
  });

  it('refuses a lease of a model the appliance does not serve, or of no size', async () => {
    expect((await call('POST', 'sync/v1/leases', { brand: 'demo-brand', model: 'no-such-model', size: 10 })).status).toBe(400);
    expect((await call('POST', 'sync/v1/leases', { brand: 'demo-brand', model: 'demo-model', size: 0 })).status).toBe(400);
  });

  it('sends no snap file the appliance is not entitled to', async () => {
    expect((await call('GET', `sync/v1/blobs/${'A'.repeat(64)}`)).status).toBe(404);
    expect((await call('GET', 'sync/v1/blobs/../../etc/passwd')).status).toBe(404);
  });

  it('refuses a disabled appliance at once, on its very next call', async () => {
    expect((await call('GET', 'sync/v1/changes?after=0')).status).toBe(200);
    await sync.appliances.disable('line-r', OPERATOR_ACTOR);
    const refused = await call('GET', 'sync/v1/snapshot');
    expect(refused.status).toBe(403);
    expect(errorCode(refused.body)).toBe('ERR_APPLIANCE_DISABLED');
    expect((await call('POST', 'sync/v1/push', { kind: 'issuance', after: 2, rows: [row(3, 'R-3')] })).status).toBe(403);
    await sync.appliances.enable('line-r', OPERATOR_ACTOR);
    expect((await call('GET', 'sync/v1/changes?after=0')).status).toBe(200);
  });
});
