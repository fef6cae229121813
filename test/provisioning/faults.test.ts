import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeSigner, encodeStream, signAssertion } from '../../src/assertions/index.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

const dataDir = testDataDir();
afterAll(() => removeDataDir(dataDir));

async function body(t: TestVault, key: NodeSigner): Promise<Buffer> {
  const res = await fetch(`${t.url}request-id`, { method: 'POST', headers: { 'api-key': t.apiKey } });
  const id = ((await res.json()) as { 'request-id': string })['request-id'];
  const view = t.model.is('model') ? t.model.view : undefined;
  const request = await signAssertion(
    { type: 'serial-request', 'brand-id': view!.brandId, model: view!.model, 'request-id': id, 'device-key': key.publicKey.encoded },
    undefined,
    key,
    { minimumKeyBits: 2048 },
  );
  return encodeStream([request, t.model]);
}

const post = (t: TestVault, b: Buffer) =>
  fetch(`${t.url}serial`, { method: 'POST', headers: { 'api-key': t.apiKey, 'Content-Type': 'application/x.ubuntu.assertion' }, body: b });

describe('transient faults answer 503, never 4xx or 500', () => {
  let t: TestVault;
  let keys: NodeSigner[];
  beforeAll(async () => {
    t = await startTestVault(dataDir, 'sqlite', { device: { maxInFlight: 2 } as never });
    keys = (await deviceKeys(21)).map((k) => new NodeSigner(k));
  });
  afterAll(() => t?.close());

  it('past the in-flight bound, a device gets a fast 503 it can retry', async () => {
    const bodies = await Promise.all(keys.slice(0, 20).map((k) => body(t, k)));
    const answers = await Promise.all(bodies.map((b) => post(t, b)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    const refused = answers.find((r) => r.status === 503)!;
    expect(refused.headers.get('content-type')).toBe('application/json');
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(await refused.json()).toMatchObject({ code: 'ERR_OVERLOADED' });
  });

  it('with the HSM token gone, registration answers 503 with a message snapd can show', async () => {
    execFileSync('softhsm2-util', ['--delete-token', '--token', 'serial-vault'], {
      env: { ...process.env, SOFTHSM2_CONF: join(dataDir, 'softhsm2.conf') },
      stdio: 'ignore',
    });
    const res = await post(t, await body(t, keys[20]!));
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/json');
    const text = await res.text();
    // No CKR name, key label or token label reaches a device (snapd shows the message to its user).
    const labels = (await t.vault.db('signing_keys').pluck('label')) as string[];
    expect(labels.length).toBeGreaterThan(0);
    for (const internal of [/CKR_/, /serial-vault/, /pkcs11/i, /softhsm/i, ...labels]) expect(text).not.toMatch(internal);
    expect(t.logs()).toMatch(/CKR_|token/);
    const answer = JSON.parse(text) as { code: string; message: string };
    expect(answer.code).toBe('ERR_TEMPORARILY_UNAVAILABLE');
    expect(answer.message).toMatch(/temporarily unavailable/);
    const ready = await fetch(new URL('/health/ready', t.url));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ok: false });
  });
});
