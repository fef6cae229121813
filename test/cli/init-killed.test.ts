import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TrustDatabase, decodeStream } from '../../src/assertions/index.js';
import { openVault } from '../../src/app.js';
import { createDemo } from '../../src/setup/demo.js';
import { initDataDir } from '../../src/setup/data-dir.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import type { KeyStore } from '../../src/keystore/keystore.js';
import { MemoryKeyStore } from '../../src/keystore/memory.js';
import { ApiKeyRepository } from '../../src/provisioning/api-keys.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

/**
 * `serial-vault init --demo` killed (SIGKILL) at any moment, and run once
 * more, ends with a working demo: the token, the config, the root, the
 * brand, the model and an API key, none lost or doubled. The kill times
 * spread over the whole run, from the token set-up to the demo files.
 */
const bin = resolve('dist/src/cli/main.js');

function run(dir: string, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, 'init', '--data-dir', dir, '--demo', '--port', '0', '--admin-port', '0', '--store-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stderr });
    });
  });
}

describe('init --demo killed at any moment', () => {
  it('completes when run once more', async () => {
    // How long a whole run takes here, to spread the kills over it.
    const probe = testDataDir();
    const started = Date.now();
    expect((await run(probe)).code).toBe(0);
    const whole = Date.now() - started;
    removeDataDir(probe);

    let killedMidway = 0;
    for (const fraction of [0.15, 0.35, 0.55, 0.75]) {
      const dir = testDataDir();
      try {
        const first = await run(dir, Math.round(whole * fraction));
        if (first.signal === 'SIGKILL') killedMidway++;
        const again = await run(dir);
        expect(again.code, `after a kill at ${Math.round(fraction * 100)}%: ${again.stderr}`).toBe(0);
        const trusted = decodeStream(readFileSync(join(dir, 'demo', 'trusted.assert')));
        const model = decodeStream(readFileSync(join(dir, 'demo', 'demo-model.model')));
        const db = openDatabase({ client: 'sqlite', filename: join(dir, 'vault.db') });
        try {
          // One of each, none doubled, and the model verifies through the stored brand chain.
          expect((await db('signing_keys').orderBy('label').pluck('label')) as string[]).toEqual(['brand-demo-brand-serials', 'root-demo-root']);
          expect(await db('models').count({ n: '*' })).toEqual([{ n: 1 }]);
          const chain = ((await db('assertions').where({ trusted: false }).pluck('encoded')) as string[]).flatMap((e) => decodeStream(Buffer.from(e)));
          const trust = new TrustDatabase({ trusted });
          expect(trust.addBatch([...chain, ...model]).map((r) => r.error?.message)).toEqual([...chain, ...model].map(() => undefined));
          const apiKey = readFileSync(join(dir, 'demo', 'api-key'), 'utf8').trim();
          expect(await new ApiKeyRepository(db).verify(apiKey)).toBeDefined();
        } finally {
          await db.destroy();
        }
      } finally {
        removeDataDir(dir);
      }
    }
    // Run times vary with the machine's load: at least half the kills must land before init finishes.
    expect(killedMidway).toBeGreaterThanOrEqual(2);
  }, 240_000);
});

/**
 * The same property at every step boundary, deterministically: the run
 * stops (as a crash would) at the Nth HSM operation, for every N, and the
 * next run must complete. An in-memory keystore stands in for the HSM here
 * (keys survive the "crash", as they do in a token), beside the real kills above.
 */
describe('init --demo stopped at each HSM operation', () => {
  it('completes when run again, with one root, one brand, one model and a working API key', async () => {
    let completedAt: number | undefined;
    for (let failAt = 1; completedAt === undefined && failAt < 40; failAt++) {
      const dir = testDataDir();
      const keys = new MemoryKeyStore();
      let ops = 0;
      const crashing: KeyStore = {
        ...keys,
        generate: (label) => (++ops === failAt ? Promise.reject(new Error('crash')) : keys.generate(label)),
        signDigest: (ref, digest) => (++ops === failAt ? Promise.reject(new Error('crash')) : keys.signDigest(ref, digest)),
        find: (ref) => keys.find(ref),
        list: () => keys.list(),
        destroy: (ref) => keys.destroy(ref),
        health: () => keys.health(),
        close: async () => undefined,
      };
      try {
        await initDataDir(dir, { port: 0, adminPort: 0, storePort: 0 });
        const config = await loadConfig(dir);
        const first = await openVault(config, { keystore: crashing, logger: pino({ level: 'silent' }) });
        const crashed = await createDemo(first).then(
          () => false,
          () => true,
        );
        await first.close();
        if (!crashed) completedAt = failAt;
        const again = await openVault(config, { keystore: { ...crashing, generate: (l) => keys.generate(l), signDigest: (r, d) => keys.signDigest(r, d) }, logger: pino({ level: 'silent' }) });
        try {
          const demo = await createDemo(again);
          expect((await again.db('signing_keys').orderBy('label').pluck('label')) as string[]).toEqual(['brand-demo-brand-serials', 'root-demo-root']);
          expect(await again.db('models').count({ n: '*' })).toEqual([{ n: 1 }]);
          expect(await again.provisioning.apiKeys.verify(readFileSync(demo.apiKey, 'utf8').trim())).toBeDefined();
        } finally {
          await again.close();
        }
      } finally {
        removeDataDir(dir);
      }
    }
    // Every HSM operation of a whole run was a crash point once.
    expect(completedAt).toBeGreaterThan(5);
  }, 240_000);
});
