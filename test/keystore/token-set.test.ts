import { createHash, randomBytes, verify } from 'node:crypto';
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyStoreError } from '../../src/keystore/errors.js';
import type { KeyStore } from '../../src/keystore/keystore.js';
import { MemoryKeyStore } from '../../src/keystore/memory.js';
import { TokenSetKeyStore, openTokenSet } from '../../src/keystore/token-set.js';
import { cleanupSoftHsm, createTestToken, softhsmRoot, type TestToken } from '../support/softhsm.js';
import { keyStoreContract } from './contract.js';

const tokenDir = join(softhsmRoot(), 'tokens');

/** A test token and the directory SoftHSM2 keeps it in, to take it away and put it back. */
function tokenWithDirectory(label: string): TestToken & { readonly dir: string } {
  const before = new Set(readdirSync(tokenDir));
  const token = createTestToken(label);
  const dir = readdirSync(tokenDir).find((d) => !before.has(d));
  if (!dir) throw new Error(`cannot find the directory of token ${label}`);
  return { ...token, dir: join(tokenDir, dir) };
}

// Every token this file uses exists before the module is first initialised.
const tokenA = tokenWithDirectory('set-a');
const tokenB = tokenWithDirectory('set-b');
const contract1 = createTestToken('set-contract-1');
const contract2 = createTestToken('set-contract-2');

afterAll(() => cleanupSoftHsm());

keyStoreContract('a token set of two SoftHSM2 tokens', {
  open: () => openTokenSet([contract1.uri, contract2.uri], { signers: 1, allowDestroy: true }),
  openWithoutDestroy: () => openTokenSet([contract1.uri, contract2.uri], { signers: 1 }),
});

const digestOf = (data: Buffer) => createHash('sha512').update(data).digest();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, withinMs: number): Promise<void> {
  const end = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${withinMs} ms`);
    await sleep(20);
  }
}

describe('two SoftHSM2 tokens behind one keystore', () => {
  let store: TokenSetKeyStore;
  beforeAll(async () => {
    store = (await openTokenSet([tokenA.uri, tokenB.uri], { signers: 2, maxQueue: 256, downBackoffMs: 200, maxDownBackoffMs: 1000 })) as TokenSetKeyStore;
    await store.generateOn('set-a', 'key-a');
    await store.generateOn('set-b', 'key-b');
  });
  afterAll(() => store?.close());

  it('signs with keys on both tokens at once, each on its own token', async () => {
    const keys = { a: (await store.find('key-a'))!, b: (await store.find('key-b'))! };
    const inputs = Array.from({ length: 60 }, (_, i) => ({ key: i % 2 === 0 ? ('a' as const) : ('b' as const), data: randomBytes(40) }));
    const sigs = await Promise.all(inputs.map(({ key, data }) => store.signDigest(`key-${key}`, digestOf(data))));
    expect(sigs.every((sig, i) => verify('sha512', inputs[i]!.data, keys[inputs[i]!.key].publicKey.toKeyObject(), sig))).toBe(true);
    expect(store.tokens()).toEqual([
      { label: 'set-a', ok: true },
      { label: 'set-b', ok: true },
    ]);
    expect((await store.list()).map((k) => k.label)).toEqual(['key-a', 'key-b']);
    expect(await store.health()).toMatchObject({ ok: true, signers: 4 });
  });

  it('refuses a label that a key on another token has', async () => {
    await expect(store.generateOn('set-b', 'key-a')).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
    await expect(store.generateOn('set-c', 'key-c')).rejects.toMatchObject({ code: 'ERR_HSM_CONFIG', message: expect.stringMatching(/no token "set-c"/) });
  });

  // Both tokens are on one SoftHSM2 module: the removed token's reconnect re-initialises the module under the
  // other token's signers, which must be paused for it (module.ts); finalised under them, SoftHSM2 crashes the process.
  it('a token removed mid-run: the other token signs on, the removed one fails fast, and it comes back', async () => {
    const key = { a: (await store.find('key-a'))!, b: (await store.find('key-b'))! };
    const results: Array<{ key: 'a' | 'b'; ok: boolean; code?: string; ms: number; downBefore: boolean }> = [];
    let running = true;
    const signer = async (k: 'a' | 'b') => {
      while (running) {
        const data = randomBytes(32);
        const downBefore = !store.isAvailable(`key-${k}`);
        const start = performance.now();
        try {
          const sig = await store.signDigest(`key-${k}`, digestOf(data));
          if (!verify('sha512', data, key[k].publicKey.toKeyObject(), sig)) throw new Error('a signature does not verify');
          results.push({ key: k, ok: true, ms: performance.now() - start, downBefore });
        } catch (e) {
          results.push({ key: k, ok: false, code: (e as KeyStoreError).code, ms: performance.now() - start, downBefore });
          await sleep(5); // as a caller that moves to another key would
        }
      }
    };
    const loops = [...Array.from({ length: 4 }, () => signer('a')), ...Array.from({ length: 4 }, () => signer('b'))];
    try {
      await sleep(500);
      // Out of the token directory: SoftHSM2 finds tokens in any folder under it.
      const away = join(softhsmRoot(), 'set-a.away');
      renameSync(tokenA.dir, away);
      await until('token set-a out of rotation', () => !store.isAvailable('key-a'), 10_000);
      expect(store.isAvailable('key-b')).toBe(true);
      const health = await store.health();
      expect(health.ok).toBe(false);
      expect(health.problem).toMatch(/^token "set-a": /);
      expect(store.tokens()).toEqual([{ label: 'set-a', ok: false, problem: expect.any(String), retryAt: expect.any(Date) }, { label: 'set-b', ok: true }]);
      await sleep(2000);
      const signedOnBWhileAway = results.filter((r) => r.key === 'b' && r.ok).length;
      renameSync(away, tokenA.dir);
      await until('token set-a back in rotation', () => store.isAvailable('key-a'), 45_000);
      await sleep(300);
      running = false;
      await Promise.all(loops);

      const onB = results.filter((r) => r.key === 'b');
      expect(onB.filter((r) => !r.ok)).toEqual([]);
      expect(signedOnBWhileAway).toBeGreaterThan(20);
      const refusedFast = results.filter((r) => r.key === 'a' && r.downBefore && !r.ok);
      expect(refusedFast.length).toBeGreaterThan(10);
      expect(new Set(refusedFast.map((r) => r.code))).toEqual(new Set(['ERR_HSM_UNAVAILABLE']));
      expect(Math.max(...refusedFast.map((r) => r.ms))).toBeLessThan(100);
      // Back in rotation, the token signs again with the key it had.
      const data = randomBytes(32);
      expect(verify('sha512', data, key.a.publicKey.toKeyObject(), await store.signDigest('key-a', digestOf(data)))).toBe(true);
      expect(store.tokens().every((t) => t.ok)).toBe(true);
    } finally {
      running = false;
      await Promise.all(loops);
    }
  });
});

/** A member whose faults the test decides, over keys in memory. */
class Faulty extends MemoryKeyStore {
  fault: KeyStoreError | undefined;
  override async signDigest(ref: string, digest: Uint8Array): Promise<Uint8Array> {
    if (this.fault) throw this.fault;
    return super.signDigest(ref, digest);
  }
  override async health() {
    const health = await super.health();
    return this.fault ? { ...health, ok: false, problem: this.fault.message } : health;
  }
}

describe('a token set, by rule', () => {
  const member = (label: string, store: KeyStore) => ({ label, open: async () => store });

  it('refuses to start with one label on two tokens', async () => {
    const one = new MemoryKeyStore({ bits: 1024 });
    const two = new MemoryKeyStore({ bits: 1024 });
    await one.generate('same');
    await two.generate('same');
    await expect(TokenSetKeyStore.open([member('one', one), member('two', two)])).rejects.toMatchObject({
      code: 'ERR_HSM_CONFIG',
      message: 'key "same" is on tokens "one" and "two": a label must name one key across the token set',
    });
  });

  it('starts with a token that is unavailable and opens it once it is', async () => {
    const later = new MemoryKeyStore({ bits: 1024 });
    await later.generate('late');
    let present = false;
    const set = await TokenSetKeyStore.open(
      [
        member('here', new MemoryKeyStore({ bits: 1024 })),
        { label: 'later', open: async () => (present ? later : Promise.reject(new KeyStoreError('ERR_HSM_UNAVAILABLE', 'no token with label "later" is present'))) },
      ],
      { downBackoffMs: 20, maxDownBackoffMs: 40 },
    );
    try {
      expect(set.tokens()[1]).toMatchObject({ label: 'later', ok: false, problem: 'no token with label "later" is present' });
      await expect(set.find('late')).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
      present = true;
      await until('token "later" open', () => set.tokens()[1]!.ok, 2000);
      expect((await set.find('late'))?.label).toBe('late');
    } finally {
      await set.close();
    }
  });

  it('keeps a busy token in rotation and takes an unavailable one out, doubling the wait', async () => {
    const faulty = new Faulty({ bits: 1024 });
    await faulty.generate('k');
    const changes: boolean[] = [];
    const set = await TokenSetKeyStore.open([member('f', faulty), member('other', new MemoryKeyStore({ bits: 1024 }))], {
      downBackoffMs: 50,
      maxDownBackoffMs: 100,
      onChange: (s) => changes.push(s.ok),
    });
    try {
      faulty.fault = new KeyStoreError('ERR_HSM_BUSY', 'all 1 HSM signers are busy');
      await expect(set.signDigest('k', Buffer.alloc(64))).rejects.toMatchObject({ code: 'ERR_HSM_BUSY' });
      expect(set.isAvailable('k')).toBe(true);
      faulty.fault = new KeyStoreError('ERR_HSM_UNAVAILABLE', 'the token went away');
      await expect(set.signDigest('k', Buffer.alloc(64))).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
      expect(set.isAvailable('k')).toBe(false);
      await expect(set.signDigest('k', Buffer.alloc(64))).rejects.toMatchObject({
        code: 'ERR_HSM_UNAVAILABLE',
        message: expect.stringMatching(/^cannot sign with key "k": token "f" is unavailable \(the token went away\); it is tried again in \d s$/),
      });
      const first = set.tokens()[0]!.retryAt!.getTime();
      await until('a second, later try', () => (set.tokens()[0]!.retryAt?.getTime() ?? 0) > first, 1000);
      expect(set.tokens()[0]!.retryAt!.getTime() - first).toBeGreaterThanOrEqual(90);
      faulty.fault = undefined;
      await until('token "f" back', () => set.isAvailable('k'), 1000);
      expect(await set.signDigest('k', Buffer.alloc(64))).toHaveLength(128);
      expect(changes).toEqual([false, true]);
    } finally {
      await set.close();
    }
  });
});
