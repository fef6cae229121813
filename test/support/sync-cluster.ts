import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import { decodeStream, type Assertion } from '../../src/assertions/index.js';
import { DeviceRegistrationError, registerDevice } from '../../src/cli/device-client.js';
import { FaultProxy } from './fault-proxy.js';
import { SYNC_COMMANDS } from './sync-commands.js';
import { VaultProcess, cliOk, makeDeviceKeys, patchJson, runCli, sleep, waitUntil, type CliRun } from './vault-process.js';

export { SYNC_COMMANDS } from './sync-commands.js';
export { VaultProcess, WaitAborted, cliOk, makeDeviceKeys, runCli, sleep, waitUntil, type CliRun, type ServeUrls } from './vault-process.js';
import { freePort } from './net.js';
import { freshPostgresDatabase } from './postgres.js';

/**
 * A real central-and-appliances cluster, every part its own process:
 *
 * - central: one or more `serve` replicas of one data directory (so one
 *   config, one SoftHSM2 token and one blob directory, `C/blobs`) on one
 *   fresh PostgreSQL database of the throwaway cluster
 *   (scripts/with-postgres.sh), each with its own sync listener port;
 * - appliances: each its own data directory, SQLite database and SoftHSM2
 *   token (`init`), enrolled through its own fault proxy in front of
 *   central's sync listener(s) (round-robin over the replicas when there are
 *   several), then `serve`.
 *
 * The commands and flags it drives are in sync-commands.ts, the processes
 * in vault-process.ts.
 */

/** Faster than the defaults (push every 2 s) so the tests do not wait on timers; merged into the appliance's config.json `upstream`. */
export const TEST_UPSTREAM: Record<string, unknown> = { pushEverySeconds: 0.5, waitSeconds: 10, timeoutSeconds: 30 };

/** The demo that `init --demo` makes on central (src/setup/demo.ts): vault-allocated serials DEMO-{n:06}. */
export const DEMO = { brand: 'demo-brand', store: 'demo-brand', model: 'demo-model' } as const;

export interface Appliance {
  readonly name: string;
  readonly dataDir: string;
  readonly process: VaultProcess;
  /** The fault proxy between this appliance and central. */
  readonly proxy: FaultProxy;
}

export interface Registered {
  readonly appliance: string;
  readonly serial: string;
  readonly deviceKeyId: string;
}

export interface RegistrationFailure {
  readonly appliance: string;
  readonly status: number | undefined;
  readonly message: string;
}

export interface IssuanceRow {
  readonly origin: string | null;
  readonly origin_seq: number | null;
  readonly model: string;
  readonly serial: string;
  readonly device_key_id: string;
  readonly outcome: string;
}

/** What a run left on central, against what the devices were answered. */
export interface IssuanceReport {
  /** Serials a device was answered with that central's log does not hold for that appliance. */
  readonly lost: Registered[];
  /** (origin, origin_seq) or (origin, serial, device key) that central holds more than once. */
  readonly duplicated: string[];
  /** Vault-allocated serials of the demo model issued to two different device keys. */
  readonly overlapping: string[];
  /** Per appliance: its own log's row count and the rows central holds from it. */
  readonly counts: Record<string, { local: number; central: number }>;
}

export interface ClusterOptions {
  /** Central replicas on the one database and data directory (default 1). */
  readonly replicas?: number;
  /** Appliance names (default two; none: add them with `enrolAppliance`). */
  readonly appliances?: readonly string[];
  /** Merged into each appliance's `upstream` config after enrolment. */
  readonly upstream?: Record<string, unknown>;
  /** Log level of the serve processes (default info: tests read their logs). */
  readonly logLevel?: string;
}

export class SyncCluster {
  readonly replicas: VaultProcess[] = [];
  readonly appliances: Appliance[] = [];
  private pg: Knex | undefined;
  private deviceKeys: KeyObject[] = [];
  private logLevel = 'info';
  demo!: { model: Assertion; seed: Assertion[]; trusted: Assertion[]; apiKey: string };

  private constructor(
    readonly root: string,
    readonly centralDir: string,
    readonly databaseUrl: string,
  ) {}

  /** Sets the cluster up and starts every process; enrolled appliances have their first state from central when it resolves. */
  static async start(options: ClusterOptions = {}): Promise<SyncCluster> {
    const root = mkdtempSync(join(tmpdir(), 'sv-cluster-'));
    const cluster = new SyncCluster(root, join(root, 'central'), await freshPostgresDatabase());
    try {
      await cluster.setUp(options);
      return cluster;
    } catch (e) {
      await cluster.close();
      throw e;
    }
  }

  private async setUp(options: ClusterOptions): Promise<void> {
    this.logLevel = options.logLevel ?? 'info';
    const env = { SERIAL_VAULT_LOG_LEVEL: this.logLevel };
    await cliOk(['init', '--data-dir', this.centralDir, '--demo', '--database', this.databaseUrl, '--port', '0', '--admin-port', '0', '--store-port', '0']);
    const demoDir = join(this.centralDir, 'demo');
    const model = decodeStream(readFileSync(join(demoDir, 'demo-model.model')))[0]!;
    // The device's seed: the brand's account and the account-key that signed the model (an appliance's answer carries its own key's chain).
    const chain = (await this.centralDb()('assertions')
      .where((q) => q.where({ type: 'account', primary_key: DEMO.brand }).orWhere({ type: 'account-key', primary_key: model.headerString('sign-key-sha3-384') ?? '' }))
      .pluck('encoded')) as string[];
    this.demo = {
      model,
      seed: chain.flatMap((text) => decodeStream(Buffer.from(text))),
      trusted: decodeStream(readFileSync(join(demoDir, 'trusted.assert'))),
      apiKey: readFileSync(join(demoDir, 'api-key'), 'utf8').trim(),
    };
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      this.replicas.push(new VaultProcess(`central-${i + 1}`, this.centralDir, env, await freePort()));
    }
    // One at a time: each opens the database and runs its start-up sweep.
    for (const r of this.replicas) await r.start();
    const names = options.appliances ?? ['appliance-a', 'appliance-b'];
    this.deviceKeys = await makeDeviceKeys(32);
    await Promise.all(names.map((name) => this.addAppliance(name, options.upstream ? { upstream: options.upstream } : {})));
  }

  /** The sync listener targets the proxies forward to. */
  private syncTargets() {
    return this.replicas.map((r) => ({ host: '127.0.0.1', port: Number(new URL(r.urls.sync!).port) }));
  }

  /**
   * Makes an appliance on central and enrols a fresh data directory for it
   * through its own fault proxy; not started (`appliance.process.start()`).
   */
  async enrolAppliance(name: string, options: { upstream?: Record<string, unknown>; logLevel?: string; onEnrolPid?: (pid: number) => void } = {}): Promise<Appliance> {
    const dataDir = join(this.root, name);
    const tokenFile = join(this.root, `${name}.enrol`);
    const proxy = await FaultProxy.start({ target: this.syncTargets(), mode: this.replicas.length > 1 ? 'round-robin' : 'first' });
    await cliOk(['init', '--data-dir', dataDir, '--port', '0', '--admin-port', '0', '--store-port', '0']);
    patchJson(join(dataDir, 'config.json'), (c) => (c['sync'] = { ...(c['sync'] as object), ...SYNC_COMMANDS.applianceSyncConfig }));
    await cliOk(SYNC_COMMANDS.applianceAdd(name, DEMO.store, tokenFile, this.centralDir));
    await cliOk(SYNC_COMMANDS.applianceEnrol(proxy.url, tokenFile, dataDir), { timeoutMs: 600_000, ...(options.onEnrolPid ? { onSpawn: options.onEnrolPid } : {}) });
    const upstream = { ...TEST_UPSTREAM, ...options.upstream };
    patchJson(join(dataDir, 'config.json'), (c) => {
      if (c['upstream']) c['upstream'] = { ...(c['upstream'] as object), ...upstream };
    });
    const process = new VaultProcess(name, dataDir, { SERIAL_VAULT_LOG_LEVEL: options.logLevel ?? this.logLevel });
    const appliance: Appliance = { name, dataDir, process, proxy };
    this.appliances.push(appliance);
    return appliance;
  }

  /** Enrols an appliance, starts it, and waits until it holds central's demo model. */
  async addAppliance(name: string, options: { upstream?: Record<string, unknown>; logLevel?: string } = {}): Promise<Appliance> {
    const appliance = await this.enrolAppliance(name, options);
    await appliance.process.start();
    await this.waitFor(`${name} to hold the demo model from central`, () => this.applianceHas(appliance, 'models', { name: DEMO.model }), { timeoutMs: 60_000 });
    return appliance;
  }

  /** Throws if any process of the cluster has exited by itself. */
  assertAlive(): void {
    for (const p of [...this.replicas, ...this.appliances.map((a) => a.process)]) p.assertAlive();
  }

  /** `waitUntil`, failing at once if a process of the cluster crashes meanwhile. */
  waitFor<T>(what: string, check: () => Promise<T> | T, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<NonNullable<T>> {
    return waitUntil(
      what,
      async () => {
        this.assertAlive();
        return check();
      },
      options,
    ).finally(() => this.assertAlive());
  }

  appliance(name: string): Appliance {
    const a = this.appliances.find((x) => x.name === name);
    if (!a) throw new Error(`no appliance ${name}`);
    return a;
  }

  /** serial-vault … against central's data directory (PostgreSQL, its HSM token), as the operator. */
  centralCli(...args: string[]): Promise<CliRun> {
    return runCli([...args, '--data-dir', this.centralDir]);
  }

  /** serial-vault … against an appliance's data directory. */
  applianceCli(a: Appliance, ...args: string[]): Promise<CliRun> {
    return runCli([...args, '--data-dir', a.dataDir]);
  }

  async syncStatus(a: Appliance): Promise<unknown> {
    const r = await runCli(SYNC_COMMANDS.syncStatus(a.dataDir));
    if (r.code !== 0) throw new Error(`sync status of ${a.name} exited with ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  }

  /** central's PostgreSQL (one pool, closed with the cluster). */
  centralDb(): Knex {
    this.pg ??= knex({ client: 'pg', connection: this.databaseUrl, pool: { min: 0, max: 4 } });
    return this.pg;
  }

  /** Runs `fn` on an appliance's SQLite database (opened for the call: the appliance keeps running). */
  async applianceDb<T>(a: Appliance, fn: (db: Knex) => Promise<T>): Promise<T> {
    const db = knex({ client: 'sqlite3', connection: { filename: join(a.dataDir, 'vault.db') }, useNullAsDefault: true, pool: { min: 0, max: 1, afterCreate: (c: { run: (sql: string, cb: (e: Error | null) => void) => void }, done: (e: Error | null, c: unknown) => void) => c.run('PRAGMA busy_timeout = 5000', (e) => done(e, c)) } });
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  async applianceHas(a: Appliance, table: string, where: Record<string, unknown>): Promise<boolean> {
    return this.applianceDb(a, async (db) => (await db(table).where(where).first()) !== undefined);
  }

  async applianceCount(a: Appliance, table: string, where: (q: Knex.QueryBuilder) => void = () => undefined): Promise<number> {
    return this.applianceDb(a, async (db) => {
      const q = db(table).count({ n: '*' });
      where(q);
      return Number(((await q.first()) as { n: unknown }).n);
    });
  }

  async centralCount(table: string, where: (q: Knex.QueryBuilder) => void = () => undefined): Promise<number> {
    const q = this.centralDb()(table).count({ n: '*' });
    where(q);
    return Number(((await q.first()) as { n: unknown }).n);
  }

  /** central's issuance log rows pushed by an appliance (all when no name). */
  async centralIssuance(appliance?: string): Promise<IssuanceRow[]> {
    const q = this.centralDb()('issuance_log').select('origin', 'origin_seq', 'model', 'serial', 'device_key_id', 'outcome').orderBy('id');
    if (appliance) q.where({ origin: SYNC_COMMANDS.originOf(appliance) });
    return ((await q) as IssuanceRow[]).map((r) => ({ ...r, origin_seq: r.origin_seq === null ? null : Number(r.origin_seq) }));
  }

  async applianceIssuance(a: Appliance): Promise<Array<{ id: number; serial: string; device_key_id: string; outcome: string }>> {
    return this.applianceDb(a, (db) => db('issuance_log').select('id', 'serial', 'device_key_id', 'outcome').orderBy('id'));
  }

  /** A device key for each registration; made in batches ahead of need. */
  private async takeKeys(n: number): Promise<KeyObject[]> {
    if (this.deviceKeys.length < n) this.deviceKeys.push(...(await makeDeviceKeys(n - this.deviceKeys.length + 32)));
    return this.deviceKeys.splice(0, n);
  }

  /**
   * Registers `n` devices of the demo model on an appliance's device API, as
   * snapd does (request-id, serial-request), `concurrency` at a time, with
   * the demo station's API key (replicated from central).
   */
  async register(a: Appliance, n: number, options: { concurrency?: number; apiKey?: string } = {}): Promise<{ ok: Registered[]; failed: RegistrationFailure[] }> {
    const keys = await this.takeKeys(n);
    const ok: Registered[] = [];
    const failed: RegistrationFailure[] = [];
    const url = a.process.urls.device;
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(options.concurrency ?? 4, n) }, async () => {
        while (next < keys.length) {
          const deviceKey = keys[next++]!;
          try {
            const r = await registerDevice({ url, headers: { 'api-key': options.apiKey ?? this.demo.apiKey }, model: this.demo.model, seed: this.demo.seed, trusted: this.demo.trusted, deviceKey, pollAttempts: 1 });
            const v = r.serial.is('serial') ? r.serial.view : undefined;
            ok.push({ appliance: a.name, serial: r.serial.headerString('serial')!, deviceKeyId: v!.deviceKeyId });
          } catch (e) {
            failed.push({ appliance: a.name, status: e instanceof DeviceRegistrationError ? e.status : undefined, message: e instanceof Error ? e.message : String(e) });
          }
        }
      }),
    );
    return { ok, failed };
  }

  /** Keeps registering on an appliance, about `perSecond` a second, until `stop()`; resolves with every answer. */
  keepRegistering(a: Appliance, perSecond: number): { count: () => { ok: number; failed: number }; stop: () => Promise<{ ok: Registered[]; failed: RegistrationFailure[] }> } {
    let running = true;
    const ok: Registered[] = [];
    const failed: RegistrationFailure[] = [];
    const loop = (async () => {
      while (running) {
        const started = Date.now();
        const r = await this.register(a, 1, { concurrency: 1 });
        ok.push(...r.ok);
        failed.push(...r.failed);
        const wait = 1000 / perSecond - (Date.now() - started);
        if (wait > 0 && running) await sleep(wait);
      }
    })();
    return {
      count: () => ({ ok: ok.length, failed: failed.length }),
      stop: async () => {
        running = false;
        await loop;
        return { ok, failed };
      },
    };
  }

  /** Waits until central holds every row of each appliance's issuance log (its push backlog is empty). */
  async waitForPushes(timeoutMs = 60_000, appliances: readonly Appliance[] = this.appliances): Promise<void> {
    for (const a of appliances) {
      let detail = '';
      await this.waitFor(
        `central to hold every issuance row of ${a.name}`,
        async () => {
          const local = await this.applianceIssuance(a);
          const central = new Set((await this.centralIssuance(a.name)).map((r) => r.origin_seq));
          detail = `${a.name}: ${local.length} rows, central holds ${central.size}`;
          return local.every((r) => central.has(Number(r.id)));
        },
        { timeoutMs, intervalMs: 250 },
      ).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; ${detail}`);
      });
    }
  }

  /** Compares what the devices were answered with what central holds: lost, duplicated, overlapping. */
  async issuanceReport(answered: readonly Registered[]): Promise<IssuanceReport> {
    const rows = await this.centralIssuance();
    const counts: Record<string, { local: number; central: number }> = {};
    for (const a of this.appliances) {
      const local = await this.applianceIssuance(a);
      counts[a.name] = { local: local.length, central: rows.filter((r) => r.origin === SYNC_COMMANDS.originOf(a.name)).length };
    }
    const seen = new Map<string, number>();
    const bump = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    for (const r of rows) {
      if (r.origin_seq !== null) bump(`seq ${r.origin}#${r.origin_seq}`);
      bump(`row ${r.origin} ${r.model} ${r.serial} ${r.device_key_id} ${r.outcome}`);
    }
    const duplicated = [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
    const held = new Set(rows.map((r) => `${r.origin} ${r.serial} ${r.device_key_id}`));
    const lost = answered.filter((x) => !held.has(`${SYNC_COMMANDS.originOf(x.appliance)} ${x.serial} ${x.deviceKeyId}`));
    const keysBySerial = new Map<string, Set<string>>();
    for (const r of rows) {
      if (r.model !== DEMO.model || r.outcome !== 'issued') continue;
      const s = keysBySerial.get(r.serial) ?? new Set<string>();
      s.add(r.device_key_id);
      keysBySerial.set(r.serial, s);
    }
    // Answers that central has not seen count too: two appliances answering one serial is an overlap even if a push is missing.
    for (const x of answered) {
      const s = keysBySerial.get(x.serial) ?? new Set<string>();
      s.add(x.deviceKeyId);
      keysBySerial.set(x.serial, s);
    }
    const overlapping = [...keysBySerial].filter(([, keys]) => keys.size > 1).map(([serial]) => serial);
    return { lost, duplicated, overlapping, counts };
  }

  /**
   * Bulk rows on central, straight into the replicated `snaps` table (the
   * capture triggers put them in the feed as any write would): `n` snaps in
   * the demo store named `${prefix}-${i}`.
   */
  async insertSnaps(prefix: string, n: number, db: Knex = this.centralDb()): Promise<void> {
    const now = new Date().toISOString();
    const tag = prefix.replace(/[^a-z0-9]/gi, '').slice(0, 20);
    for (let start = 0; start < n; start += 1000) {
      const rows = Array.from({ length: Math.min(1000, n - start) }, (_, k) => {
        const i = start + k;
        return { snap_id: `${tag}${String(i).padStart(32 - tag.length, '0')}`, name: `${prefix}-${i}`, store_id: DEMO.store, type: 'app', private: false, publisher: 'operator', publisher_id: DEMO.brand, collaborators: '[]', created_at: now };
      });
      await db('snaps').insert(rows);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.appliances.map((a) => a.process.kill9()));
    await Promise.all(this.replicas.map((r) => r.kill9()));
    await Promise.all(this.appliances.map((a) => a.proxy.close()));
    await this.pg?.destroy();
    rmSync(this.root, { recursive: true, force: true });
  }
}
