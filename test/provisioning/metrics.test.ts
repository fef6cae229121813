import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveAdmin, type Listening } from '../../src/listeners.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

const dir = testDataDir();
afterAll(() => removeDataDir(dir));

describe('the admin listener', () => {
  let t: TestVault;
  let admin: Listening;
  beforeAll(async () => {
    t = await startTestVault(dir, 'sqlite');
    admin = await serveAdmin(t.vault);
    const [deviceKey] = await deviceKeys(1);
    await registerDevice({ url: t.url, headers: { 'api-key': t.apiKey }, model: t.model, trusted: t.trusted, deviceKey: deviceKey! });
    await fetch(`${t.url}request-id`, { method: 'POST', headers: { 'api-key': 'wrong' } });
  });
  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  it('serves Prometheus metrics with the named series', async () => {
    const res = await fetch(new URL('/metrics', admin.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^serial_vault_http_requests_total\{route="\/v1\/serial",method="POST",status="200"\} 1$/m);
    expect(text).toMatch(/^serial_vault_http_request_duration_seconds_bucket\{le="[\d.]+",route="\/v1\/request-id"\} \d+$/m);
    expect(text).toMatch(/^serial_vault_serials_issued_total\{brand="demo-brand",model="demo-model",outcome="issued"\} 1$/m);
    expect(text).toMatch(/^serial_vault_refusals_total\{code="ERR_API_KEY_INVALID"\} 1$/m);
    expect(text).toMatch(/^serial_vault_hsm_sign_duration_seconds_count \d+$/m);
    expect(text).toMatch(/^serial_vault_hsm_queue_depth 0$/m);
    expect(text).toMatch(/^serial_vault_db_query_duration_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^serial_vault_process_resident_memory_bytes \d+$/m);
  });

  it('reports readiness: HSM logged in, database reachable, migrations applied', async () => {
    const res = await fetch(new URL('/health/ready', admin.url));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, problems: [] });
    expect((await fetch(new URL('/health/live', admin.url))).status).toBe(200);
  });
});
