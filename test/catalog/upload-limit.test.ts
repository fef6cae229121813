import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { buildSnap } from '../support/snaps.js';
import { removeDataDir, startAdminVault, testDataDir, type AdminTestVault } from '../support/vault.js';

describe('an upload over catalog.maxSnapBytes, over HTTP', () => {
  let dir: string;
  let v: AdminTestVault;
  let token: string;
  beforeAll(async () => {
    dir = testDataDir();
    v = await startAdminVault(dir, 'sqlite', { catalog: { maxSnapBytes: 64 * 1024 } });
    await v.vault.accounts.addPerson(OPERATOR, 'big@limit.test', 'Big');
    await v.vault.accounts.grant(OPERATOR, 'demo-brand', 'big@limit.test', 'collaborator');
    token = (await v.vault.accounts.createToken(OPERATOR, { name: 't', days: 1, forEmail: 'big@limit.test' })).secret;
  }, 120_000);
  afterAll(async () => {
    await v?.close();
    removeDataDir(dir);
  });

  it('is answered 413 with ERR_SNAP_TOO_LARGE as JSON, and leaves no file', async () => {
    const big = readFileSync(buildSnap(dir, { name: 'big-app' }, randomBytes(2 * 1024 * 1024)));
    const res = await fetch(new URL('api/v1/uploads', v.adminUrl), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: big });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('ERR_SNAP_TOO_LARGE');
    expect(readdirSync(join(dir, 'blobs'), { recursive: true }).filter((f) => String(f).endsWith('.snap') || String(f).startsWith('tmp/'))).toEqual([]);
  });
});
