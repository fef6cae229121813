import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import knex, { type Knex } from 'knex';
import { decodeStream, type Assertion } from '../../src/assertions/index.js';
import { DeviceRegistrationError, registerDevice } from '../../src/cli/device-client.js';
import { applianceOrigin } from '../../src/sync/push-receiver.js';
import { FaultProxy } from './fault-proxy.js';
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
 * The commands, flags and output the sync code is planned to have are the
 * constants below: the one place to change when they land differently.
 */

// ---------------------------------------------------------------- planned interfaces

export const PLANNED = {
  /** How a central replica gets its sync listener port: the env override of config `sync.port` (exists in src/config.ts). */
  syncPortEnv: 'SERIAL_VAULT_SYNC_PORT',
  /** Also given as a flag when set (planned `serve --sync-port N`); null: env only. */
  syncPortFlag: null as string | null,
  /** What an appliance's config says to have no sync listener of its own (`sync.port: null` is "off"). */
  applianceSyncConfig: { port: null } as Record<string, unknown>,
  /** On central: makes an appliance and writes its one-time enrolment token to `tokenFile` (`--token-out`: `--token-file` is the admin access token of --url). */
  applianceAdd: (name: string, store: string, tokenFile: string, centralDir: string) => ['appliance', 'add', name, '--store', store, '--token-out', tokenFile, '--data-dir', centralDir],
  /** On the appliance: enrols against central (writes `upstream.url` into its config.json). */
  applianceEnrol: (upstreamUrl: string, tokenFile: string, applianceDir: string) => ['appliance', 'enrol', '--upstream', upstreamUrl, '--token-file', tokenFile, '--data-dir', applianceDir],
  /** On central: refuses the appliance's next sync call. */
  applianceDisable: (name: string, centralDir: string) => ['appliance', 'disable', name, '--data-dir', centralDir],
  /** On the appliance: its sync state as JSON. */
  syncStatus: (applianceDir: string) => ['sync', 'status', '--data-dir', applianceDir, '--json'],
  /** central's issuance_log.origin for rows pushed by an appliance (src/sync/push-receiver.ts: `appliance:NAME`). */
  originOf: applianceOrigin,
  /** The sync listener's URL in serve's start-up line on stderr, if it prints one (else the port we chose is used). */
  syncLine: /\bsync(?: API| listener)?(?: \([^)]*\))? on (https?:\/\/[^\s,;)]+)/,
  /** The refusal of a local write to a replicated table on an appliance. */
  readOnlyCode: 'ERR_REPLICATED_READ_ONLY',
  disabledCode: 'ERR_APPLIANCE_DISABLED',
} as const;

/** Faster than the defaults (push every 2 s) so the tests do not wait on timers; merged into the appliance's config.json `upstream`. */
export const TEST_UPSTREAM: Record<string, unknown> = { pushEverySeconds: 0.5, waitSeconds: 10, timeoutSeconds: 30 };

/** The demo that `init --demo` makes on central (src/setup/demo.ts): vault-allocated serials DEMO-{n:06}. */
export const DEMO = { brand: 'demo-brand', store: 'demo-brand', model: 'demo-model' } as const;

const BIN = resolve('dist/src/cli/main.js');
/** serve's start-up line (src/main.ts). */
const LISTENING = /device API on (\S+), store on (\S+) .*admin API on (\S+?)api\/v1\//;

// ---------------------------------------------------------------- small helpers

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Ends a `waitUntil` at once instead of being retried (a process it waits on has crashed). */
export class WaitAborted extends Error {}

/** Polls `check` until it returns a truthy value; fails after `timeoutMs`, saying what it waited for and the last value. */
export async function waitUntil<T>(what: string, check: () => Promise<T> | T, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<NonNullable<T>> {
  const end = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (e) {
      if (e instanceof WaitAborted) throw e;
      last = e instanceof Error ? e.message : e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 500)})`);
    await sleep(options.intervalMs ?? 100);
  }
}

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `serial-vault ARGS` as its own process (the CLI opens the data directory, HSM and database as an operator would). */
export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<CliRun> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`serial-vault ${args.join(' ')} took longer than ${options.timeoutMs ?? 120_000} ms\n${stderr}`));
    }, options.timeoutMs ?? 120_000);
    child.on('error', rej);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/** Like `runCli`, but a non-zero exit is an error carrying its output. */
export async function cliOk(args: readonly string[], options: Parameters<typeof runCli>[1] = {}): Promise<CliRun> {
  const r = await runCli(args, options);
  if (r.code !== 0) throw new Error(`serial-vault ${args.join(' ')} exited with ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** Whether something accepts TCP connections on a loopback port. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

function patchJson(file: string, patch: (o: Record<string, unknown>) => void): void {
  const o = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  patch(o);
  writeFileSync(file, `${JSON.stringify(o, null, 2)}\n`, { mode: 0o600 });
}

const generate = promisify(generateKeyPair);

/** Device keys made ahead of time (1024-bit RSA: the vault takes any size, and these are many). */
export async function makeDeviceKeys(n: number): Promise<KeyObject[]> {
  const keys: KeyObject[] = [];
  for (let i = 0; i < n; i += 16) {
    const batch = await Promise.all(Array.from({ length: Math.min(16, n - i) }, () => generate('rsa', { modulusLength: 1024 })));
    keys.push(...batch.map((k) => k.privateKey));
  }
  return keys;
}

// ---------------------------------------------------------------- processes

export interface ServeUrls {
  /** Device API base, e.g. http://127.0.0.1:PORT/v1/ */
  readonly device: string;
  readonly store: string;
  /** Admin listener root, e.g. http://127.0.0.1:PORT/ (admin API under api/v1/). */
  readonly admin: string;
  /** The sync listener (central only). */
  readonly sync: string | undefined;
}

/** One `serial-vault serve` process: started, killed (-9) and started again on the same data directory. */
export class VaultProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private out = '';
  private err = '';
  private current: ServeUrls | undefined;
  private killing = false;
  /** Exits nobody asked for (a crash), with the signal or code. */
  readonly crashes: string[] = [];

  constructor(
    readonly name: string,
    readonly dataDir: string,
    private readonly env: NodeJS.ProcessEnv = {},
    private readonly syncPort?: number,
    /** Where its stdout and stderr are copied, to read after a failed run. */
    readonly logFile: string = join(dataDir, '..', `${name}.log`),
  ) {}

  /** Throws if it has exited by itself since it was started. */
  assertAlive(): void {
    if (this.crashes.length > 0) throw new WaitAborted(`${this.name} exited by itself (${this.crashes.join(', ')}); its log: ${this.logFile}\n${this.err.slice(-2000)}`);
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get urls(): ServeUrls {
    if (!this.current) throw new Error(`${this.name} is not serving`);
    return this.current;
  }

  /** Its JSON log (stdout) and its lines on stderr, since it was made (restarts included). */
  logs(): string {
    return `${this.err}\n${this.out}`;
  }

  /** Starts serve and resolves once its listeners are up (its start-up line, and the sync port accepting). */
  async start(timeoutMs = 90_000): Promise<ServeUrls> {
    if (this.child) throw new Error(`${this.name} is already running`);
    const args = ['serve', '--data-dir', this.dataDir];
    if (this.syncPort !== undefined && PLANNED.syncPortFlag) args.push(PLANNED.syncPortFlag, String(this.syncPort));
    const env = { ...process.env, ...this.env, ...(this.syncPort !== undefined ? { [PLANNED.syncPortEnv]: String(this.syncPort) } : {}) };
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    const startedAt = this.err.length;
    const copy = (d: Buffer) => appendFileSync(this.logFile, d);
    child.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
      copy(d);
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.err += d.toString();
      copy(d);
    });
    let gone = false;
    this.killing = false;
    child.once('exit', (code, signal) => {
      if (!this.killing) this.crashes.push(`${new Date().toISOString()}: ${signal ?? `exit ${code}`}`);
    });
    void this.exited.then(() => {
      gone = true;
      if (this.child === child) {
        this.child = undefined;
        this.current = undefined;
      }
    });
    const line = await waitUntil(
      `${this.name} to print its listening line`,
      () => {
        if (gone) throw new WaitAborted(`${this.name} exited while starting:\n${this.err.slice(startedAt)}`);
        return LISTENING.exec(this.err.slice(startedAt));
      },
      { timeoutMs, intervalMs: 50 },
    ).catch((e: unknown) => {
      child.kill('SIGKILL');
      throw e;
    });
    const printedSync = PLANNED.syncLine.exec(this.err.slice(startedAt))?.[1];
    const sync = printedSync ?? (this.syncPort !== undefined ? `http://127.0.0.1:${this.syncPort}/` : undefined);
    if (this.syncPort !== undefined) await waitUntil(`${this.name}'s sync listener on port ${this.syncPort}`, () => portOpen(this.syncPort!), { timeoutMs: 10_000, intervalMs: 50 });
    this.current = { device: line[1]!, store: line[2]!, admin: line[3]!, sync };
    return this.current;
  }

  /** kill -9: no shutdown, no flush, HSM sessions left open. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.killing = true;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a clean shutdown), then SIGKILL if it has not stopped in `graceMs`. */
  async stop(graceMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    this.killing = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await this.exited!;
    clearTimeout(timer);
    return code ?? null;
  }

  async restart(): Promise<ServeUrls> {
    await this.stop();
    return this.start();
  }
}

// ---------------------------------------------------------------- the cluster

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
    patchJson(join(dataDir, 'config.json'), (c) => (c['sync'] = { ...(c['sync'] as object), ...PLANNED.applianceSyncConfig }));
    await cliOk(PLANNED.applianceAdd(name, DEMO.store, tokenFile, this.centralDir));
    await cliOk(PLANNED.applianceEnrol(proxy.url, tokenFile, dataDir), { timeoutMs: 600_000, ...(options.onEnrolPid ? { onSpawn: options.onEnrolPid } : {}) });
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
    const r = await runCli(PLANNED.syncStatus(a.dataDir));
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
    if (appliance) q.where({ origin: PLANNED.originOf(appliance) });
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
      counts[a.name] = { local: local.length, central: rows.filter((r) => r.origin === PLANNED.originOf(a.name)).length };
    }
    const seen = new Map<string, number>();
    const bump = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    for (const r of rows) {
      if (r.origin_seq !== null) bump(`seq ${r.origin}#${r.origin_seq}`);
      bump(`row ${r.origin} ${r.model} ${r.serial} ${r.device_key_id} ${r.outcome}`);
    }
    const duplicated = [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
    const held = new Set(rows.map((r) => `${r.origin} ${r.serial} ${r.device_key_id}`));
    const lost = answered.filter((x) => !held.has(`${PLANNED.originOf(x.appliance)} ${x.serial} ${x.deviceKeyId}`));
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
