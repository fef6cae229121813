import { createReadStream } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { buildSnap } from '../support/snaps.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

describe('catalog smoke', () => {
  let tv: TestVault;
  let dir: string;
  beforeAll(async () => {
    dir = testDataDir();
    tv = await startTestVault(dir, 'sqlite');
  }, 120_000);
  afterAll(async () => {
    await tv?.close();
    removeDataDir(dir);
  });

  it('registers, uploads, releases and offers', async () => {
    const snaps = tv.vault.snaps;
    const snap = await snaps.register(OPERATOR, { name: 'hello-demo', storeId: 'demo-brand' });
    const file = buildSnap(dir, { name: 'hello-demo', architectures: ['amd64'] });
    const up = await snaps.upload(OPERATOR, createReadStream(file));
    const rev = await snaps.push(OPERATOR, 'demo-brand', 'hello-demo', up.uploadId);
    expect(rev.revision).toBe(1);
    await snaps.release(OPERATOR, 'demo-brand', 'hello-demo', [{ revision: 1, channel: 'stable' }]);
    const offered = await snaps.offer('demo-brand', ['hello-demo'], 'edge', 'amd64');
    expect(offered.get('hello-demo')?.revision.revision).toBe(1);
    expect(snap.snapId).toHaveLength(32);
    const dl = await snaps.download('demo-brand', 'hello-demo', { architecture: 'amd64' });
    expect(dl.assertions.map((a) => a.type)).toEqual(expect.arrayContaining(['snap-declaration', 'snap-revision', 'account', 'account-key']));
  });
});
