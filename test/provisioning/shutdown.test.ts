import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import knex from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeStream } from '../../src/assertions/index.js';
import { openVault } from '../../src/app.js';
import { createDemo } from '../../src/setup/demo.js';
import { initDataDir } from '../../src/setup/data-dir.js';
import { loadConfig } from '../../src/config.js';
import { DeviceRegistrationError, registerDevice } from '../../src/cli/device-client.js';
import { captureLogger, deviceKeys, removeDataDir, testDataDir } from '../support/vault.js';
import { freePort, waitUntilOk } from '../support/net.js';

const dir = testDataDir();
afterAll(() => removeDataDir(dir));

describe('SIGTERM during a burst of registrations', () => {
  it('every registration completes or gets a 503, and the database holds exactly the serials answered', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    await initDataDir(dir, { port, adminPort, storePort: 0 });
    const setup = await openVault(await loadConfig(dir), { logger: captureLogger().logger });
    await createDemo(setup);
    await setup.close();

    const server = spawn(process.execPath, [resolve('dist/src/cli/main.js'), 'serve', '--data-dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((r) => server.once('exit', r));
    const url = `http://127.0.0.1:${port}/v1/`;
    await waitUntilOk(`http://127.0.0.1:${port}/health/ready`, 100);
    const model = decodeStream(readFileSync(join(dir, 'demo', 'demo-model.model')))[0]!;
    const trusted = decodeStream(readFileSync(join(dir, 'demo', 'trusted.assert')));
    const apiKey = readFileSync(join(dir, 'demo', 'api-key'), 'utf8').trim();
    const keys = await deviceKeys(400, 1024);

    const register = (deviceKey: (typeof keys)[number]) =>
      registerDevice({ url, headers: { 'api-key': apiKey }, model, trusted, deviceKey }).then(
        (r) => ({ kind: 'serial' as const, serial: r.serial.headerString('serial') }),
        (e: unknown) => {
          if (e instanceof DeviceRegistrationError && e.status === 503) return { kind: '503' as const };
          // Refused before it was received: the listener had closed (a device retries in a minute).
          if (e instanceof DeviceRegistrationError && e.kind === 'retry' && e.status === undefined && /cannot reach/.test(e.message)) return { kind: 'refused' as const };
          return { kind: 'other' as const, error: String(e) };
        },
      );
    // A burst; SIGTERM once 20 devices have their serial; then more devices arrive during the shutdown.
    let done = 0;
    let late: Promise<Awaited<ReturnType<typeof register>>[]> | undefined;
    const burst = keys.slice(0, 300).map((k) =>
      register(k).then((r) => {
        if (r.kind === 'serial' && ++done === 20) {
          server.kill('SIGTERM');
          late = Promise.all(keys.slice(300).map(register));
        }
        return r;
      }),
    );
    const early = await Promise.all(burst);
    const results = [...early, ...(await late!)];
    expect(await exited).toBe(0);

    expect(results.filter((r) => r.kind === 'other')).toEqual([]);
    const answered = results.flatMap((r) => (r.kind === 'serial' ? [r.serial] : []));
    expect(answered.length).toBeGreaterThanOrEqual(20);
    // Devices that came during the shutdown were told to come back (503), not half-served.
    expect(results.some((r) => r.kind === '503')).toBe(true);

    const db = knex({ client: 'sqlite3', connection: { filename: join(dir, 'vault.db') }, useNullAsDefault: true });
    try {
      const stored = (await db('serials').join('models', 'models.id', 'serials.model_id').where('models.name', 'demo-model').pluck('serial')) as string[];
      expect(stored.sort()).toEqual([...answered].sort());
      const logged = (await db('issuance_log').where({ model: 'demo-model', outcome: 'issued' }).pluck('serial')) as string[];
      expect(logged.sort()).toEqual([...answered].sort());
    } finally {
      await db.destroy();
    }
  });
});
