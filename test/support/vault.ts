import { generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino, type Logger } from 'pino';
import { decodeAssertion, decodeStream, type Assertion } from '../../src/assertions/index.js';
import { openVault, type Vault } from '../../src/app.js';
import { serveAdmin, serveDevices, type Listening } from '../../src/listeners.js';
import { loadConfig, type ConfigInput } from '../../src/config.js';
import { createDemo } from '../../src/setup/demo.js';
import { initDataDir } from '../../src/setup/data-dir.js';
import { freePort } from './net.js';
import { startTestProvider, type TestAccount, type TestProvider } from './oidc.js';
import { freshPostgresDatabase } from './postgres.js';
import type { KeyStore } from '../../src/keystore/keystore.js';
import { Pkcs11KeyStore } from '../../src/keystore/pkcs11/keystore.js';
import { useSoftHsmConfig } from '../../src/keystore/pkcs11/softhsm.js';

const generate = promisify(generateKeyPair);

export type DatabaseKind = 'sqlite' | 'pg';

export interface TestVault {
  readonly dataDir: string;
  readonly vault: Vault;
  readonly http: Listening;
  /** The device API base URL, e.g. http://127.0.0.1:PORT/v1/ */
  readonly url: string;
  readonly model: Assertion;
  readonly trusted: Assertion[];
  readonly apiKey: string;
  /** The PostgreSQL database, to start again on the same data. */
  readonly pgConnection: string | undefined;
  /** Everything the vault logged, as text. */
  logs(): string;
  close(): Promise<void>;
}

/** A data directory on the embedded defaults, shared by the vaults of one test file (one SoftHSM2 configuration per process). */
export function testDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'sv-vault-'));
}

export function captureLogger(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), text: () => chunks.join('') };
}

/**
 * Starts a vault with the demo brand and model on a real SoftHSM2 token,
 * SQLite or PostgreSQL, on a loopback port. Registrations
 * wait up to 20 s before a 202 (production: 5 s), so a loaded CI machine
 * does not turn the tests that are not about queueing into 60 s polls.
 */
export async function startTestVault(
  dataDir: string,
  database: DatabaseKind,
  overrides: Partial<ConfigInput> = {},
  pgConnection?: string,
  options: { readonly wrapKeystore?: (real: KeyStore) => KeyStore } = {},
): Promise<TestVault> {
  await initDataDir(dataDir, { port: 0, adminPort: 0, storePort: 0 });
  const db = database === 'pg' ? { client: 'pg' as const, connection: pgConnection ?? (await freshPostgresDatabase()) } : undefined;
  const { hsm: _hsm, ...rest } = overrides;
  const config = await loadConfig(dataDir, { ...(db ? { database: db } : {}), ...rest, device: { port: 0, answerWithinSeconds: 20, ...(overrides.device ?? {}) } as ConfigInput['device'] });
  const capture = captureLogger();
  let keystore: KeyStore | undefined;
  if (options.wrapKeystore) {
    // The real token, opened as openVault would, behind the test's wrapper (a rate limiter, a fault).
    if (config.hsm.softhsmConf) useSoftHsmConfig(config.hsm.softhsmConf);
    keystore = options.wrapKeystore(await Pkcs11KeyStore.open({ uri: config.hsm.uri, maxQueue: 10_000 }));
  }
  const vault = await openVault(config, { logger: capture.logger, ...(keystore ? { keystore } : {}) });
  try {
    const demo = await createDemo(vault);
    const http = await serveDevices(vault);
    return {
      dataDir,
      vault,
      http,
      url: http.url,
      model: decodeAssertion(readFileSync(demo.model)),
      trusted: decodeStream(readFileSync(demo.trusted)),
      apiKey: readFileSync(demo.apiKey, 'utf8').trim(),
      pgConnection: db?.connection,
      logs: capture.text,
      async close() {
        await http.close();
        await vault.close();
      },
    };
  } catch (e) {
    await vault.close();
    throw e;
  }
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Device keys made ahead of time. snapd makes RSA-4096 keys; the vault takes
 * any size (snapd sets no minimum for device keys), and load tests use 2048
 * bits so that making 200 keys does not dominate the run.
 */
export async function deviceKeys(n: number, bits = 2048): Promise<KeyObject[]> {
  const keys: KeyObject[] = [];
  for (let i = 0; i < n; i += 8) {
    const batch = await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => generate('rsa', { modulusLength: bits })));
    keys.push(...batch.map((k) => k.privateKey));
  }
  return keys;
}

export interface AdminTestVault extends TestVault {
  readonly admin: Listening;
  /** The admin listener's base URL, ending in "/". */
  readonly adminUrl: string;
}

/** A test vault with its admin listener (admin API, sign-in) on a loopback port too. */
export async function startAdminVault(dataDir: string, database: DatabaseKind, overrides: Partial<ConfigInput> = {}): Promise<AdminTestVault> {
  const base = await startTestVault(dataDir, database, { ...overrides, admin: { port: 0, ...(overrides.admin ?? {}) } as ConfigInput['admin'] });
  try {
    const admin = await serveAdmin(base.vault);
    return {
      ...base,
      admin,
      adminUrl: admin.url,
      async close() {
        await admin.close();
        await base.close();
      },
    };
  } catch (e) {
    await base.close();
    throw e;
  }
}

export interface SsoTestVault {
  readonly v: AdminTestVault;
  readonly idp: TestProvider;
  /** The admin listener's URL, as registered with the provider. */
  readonly admin: string;
  close(): Promise<void>;
}

/**
 * A vault whose admin listener signs people in through a real OpenID
 * Connect provider on loopback, the client secret in a file as in
 * production. The admin port is chosen first: the provider must know the
 * redirect URI when it starts.
 */
export async function startSsoVault(dataDir: string, accounts: Record<string, TestAccount>): Promise<SsoTestVault> {
  const port = await freePort();
  const admin = `http://127.0.0.1:${port}/`;
  const idp = await startTestProvider(accounts, `${admin}auth/callback`, admin);
  try {
    writeFileSync(join(dataDir, 'sso-client-secret'), `${idp.clientSecret}\n`, { mode: 0o600 });
    const v = await startAdminVault(dataDir, 'sqlite', { admin: { port }, sso: { issuer: idp.issuer, clientId: idp.clientId, clientSecretFile: 'sso-client-secret' } } as ConfigInput);
    return {
      v,
      idp,
      admin,
      async close() {
        await v.close();
        await idp.close();
      },
    };
  } catch (e) {
    await idp.close();
    throw e;
  }
}
