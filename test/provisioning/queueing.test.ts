import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDevice } from '../../src/cli/device-client.js';
import type { KeyStore } from '../../src/keystore/keystore.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

const dataDir = testDataDir();
afterAll(() => removeDataDir(dataDir));

/**
 * A real SoftHSM2 token behind a rate limiter: one signature every 500 ms,
 * as slow as a small USB HSM signing RSA-4096. Every signature it makes is
 * counted, so a serial signed twice would show.
 */
function throttled(real: KeyStore, perSecond: number): { keystore: KeyStore; signatures: () => number; reset: () => void } {
  let next = 0;
  let count = 0;
  const gap = 1000 / perSecond;
  const keystore: KeyStore = {
    generate: (label) => real.generate(label),
    find: (ref) => real.find(ref),
    list: () => real.list(),
    destroy: (ref) => real.destroy(ref),
    health: () => real.health(),
    close: () => real.close(),
    async signDigest(ref, digest) {
      const now = Date.now();
      const at = Math.max(now, next);
      next = at + gap;
      await new Promise((r) => setTimeout(r, at - now));
      count++;
      return real.signDigest(ref, digest);
    },
  };
  return { keystore, signatures: () => count, reset: () => (count = 0) };
}

describe('registrations on a saturated HSM', () => {
  let t: TestVault;
  let hsm: ReturnType<typeof throttled>;
  beforeAll(async () => {
    t = await startTestVault(dataDir, 'sqlite', { device: { answerWithinSeconds: 2, keepAnswersMinutes: 10 } as never }, undefined, {
      wrapKeystore: (real) => {
        hsm = throttled(real, 2);
        return hsm.keystore;
      },
    });
  }, 120_000);
  afterAll(() => t?.close());

  it('40 devices on a token signing 2 per second all get serials, none waits 5 s on a request, none is signed twice', async () => {
    const keys = await deviceKeys(40, 1024);
    const answers: Array<{ status: number; ms: number }> = [];
    hsm.reset();
    const results = await Promise.all(
      keys.map((deviceKey) =>
        registerDevice({
          url: t.url,
          headers: { 'api-key': t.apiKey },
          model: t.model,
          trusted: t.trusted,
          deviceKey,
          // snapd re-posts after 60 s; the test polls each second.
          pollDelayMs: 1000,
          pollAttempts: 120,
          onAnswer: (status, ms) => answers.push({ status, ms }),
        }),
      ),
    );
    expect(new Set(results.map((r) => r.serial.headerString('serial'))).size).toBe(40);
    expect(answers.every((a) => a.status === 200 || a.status === 202)).toBe(true);
    expect(answers.filter((a) => a.status === 202).length).toBeGreaterThan(0);
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(5000);
    // Exactly one signature per serial: a re-post joined its job, or got the answer it left.
    expect(hsm.signatures()).toBe(40);
    expect(Number((await t.vault.db('serials').count({ n: '*' }))[0]!['n'])).toBe(40);
    const rows = await t.vault.provisioning.factory.report('demo-brand', { by: 'day' });
    expect(rows.filter((r) => r.outcome === 'queued').reduce((n, r) => n + r.count, 0)).toBe(answers.filter((a) => a.status === 202).length);
  }, 120_000);
});
