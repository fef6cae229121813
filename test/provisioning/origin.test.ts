import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDevice } from '../../src/cli/device-client.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';

/**
 * Every issuance log row names the instance that wrote it, and every
 * issued serial appends an outbox row in the same transaction: what a push
 * to central de-duplicates on, and what the change feed carries.
 */
describe.each<DatabaseKind>(['sqlite', 'pg'])('issuance origin and outbox on %s', (database) => {
  const dir = testDataDir();
  let t: TestVault;
  beforeAll(async () => {
    t = await startTestVault(dir, database);
  });
  afterAll(async () => {
    await t?.close();
    removeDataDir(dir);
  });

  it('marks each log row with this instance, the same across a restart, and announces each serial in the outbox', async () => {
    const register = async () => {
      const [deviceKey] = await deviceKeys(1);
      return registerDevice({ url: t.url, headers: { 'api-key': t.apiKey }, model: t.model, trusted: t.trusted, deviceKey: deviceKey! });
    };
    const first = (await register()).serial.headerString('serial');
    const origins = async () => new Set((await t.vault.db('issuance_log').pluck('origin')) as string[]);
    const [origin] = [...(await origins())];
    expect(origin).toMatch(/^[0-9a-f]{32}$/);
    await t.close();
    t = await startTestVault(dir, database, {}, t.pgConnection);
    await register();
    expect([...(await origins())]).toEqual([origin]);
    const outbox = await t.vault.db('outbox').where({ entity: 'serial' }).orderBy('seq');
    expect(outbox.map((o) => o.op)).toEqual(['issued', 'issued']);
    expect(outbox[0]).toMatchObject({ key: `demo-brand/demo-model/${first}` });
  });
});
