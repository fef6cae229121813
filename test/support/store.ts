import { randomBytes, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { OPERATOR } from '../../src/accounts/principal.js';
import type { Assertion } from '../../src/assertions/index.js';
import type { ConfigInput } from '../../src/config.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { StoreClient, type Exchange } from '../../src/cli/store-client.js';
import { serveStore, type Listening } from '../../src/listeners.js';
import { buildSnap, type SnapYamlInput } from './snaps.js';
import { deviceKeys, startTestVault, type TestVault } from './vault.js';

export interface StoreTestVault extends TestVault {
  readonly store: Listening;
  /** The store listener's base URL, ending in "/" (what SNAPPY_FORCE_API_URL would be). */
  readonly storeUrl: string;
}

/** A test vault (demo brand, model naming store "demo-brand", real SoftHSM2, SQLite) with its store listener on a loopback port. */
export async function startStoreVault(dataDir: string, overrides: Partial<ConfigInput> = {}): Promise<StoreTestVault> {
  const base = await startTestVault(dataDir, 'sqlite', { ...overrides, store: { port: 0, ...(overrides.store ?? {}) } as ConfigInput['store'] });
  try {
    const store = await serveStore(base.vault);
    return {
      ...base,
      store,
      storeUrl: store.url,
      async close() {
        await store.close();
        await base.close();
      },
    };
  } catch (e) {
    await base.close();
    throw e;
  }
}

export interface TestDevice {
  readonly model: Assertion;
  readonly serial: Assertion;
  /** The serial and its chain, as the device keeps it. */
  readonly stream: readonly Assertion[];
  readonly deviceKey: KeyObject;
  /** Every HTTP exchange its store client made. */
  readonly exchanges: Exchange[];
  client(options?: { session?: string }): StoreClient;
}

let keys: KeyObject[] = [];

/** A device registered with the vault's device API as snapd does it (2048-bit keys made ahead, for speed). */
export async function registerTestDevice(tv: StoreTestVault, model: Assertion = tv.model, apiKey: string = tv.apiKey): Promise<TestDevice> {
  if (keys.length === 0) keys = await deviceKeys(4);
  const deviceKey = keys.pop() as KeyObject;
  const reg = await registerDevice({ url: tv.url, headers: { 'api-key': apiKey }, model, trusted: tv.trusted, deviceKey });
  const exchanges: Exchange[] = [];
  return {
    model,
    serial: reg.serial,
    stream: reg.stream,
    deviceKey,
    exchanges,
    client: (options = {}) => new StoreClient({ storeUrl: tv.storeUrl, model, serial: reg.serial, deviceKey, onExchange: (e) => exchanges.push(e), ...options }),
  };
}

/** Registers (once), uploads, pushes and releases a real .snap; returns the revision number. */
export async function publish(tv: TestVault, dir: string, input: { name: string; storeId?: string; private?: boolean; type?: string; version?: string; channel?: string; payloadBytes?: number; yaml?: Partial<SnapYamlInput> }): Promise<number> {
  const snaps = tv.vault.snaps;
  const storeId = input.storeId ?? 'demo-brand';
  if (!(await snaps.visible(storeId)).some((s) => s.name === input.name)) {
    await snaps.register(OPERATOR, { name: input.name, storeId, ...(input.private ? { private: true } : {}), ...(input.type ? { type: input.type as 'app' } : {}) });
  }
  const file = buildSnap(dir, { name: input.name, version: input.version ?? '1.0', architectures: ['amd64'], ...(input.type ? { type: input.type } : {}), summary: `${input.name} for tests`, ...input.yaml }, randomBytes(input.payloadBytes ?? 4096));
  const up = await snaps.upload(OPERATOR, createReadStream(file));
  const rev = await snaps.push(OPERATOR, storeId, input.name, up.uploadId);
  await snaps.release(OPERATOR, storeId, input.name, [{ revision: rev.revision, channel: input.channel ?? 'stable' }]);
  return rev.revision;
}
