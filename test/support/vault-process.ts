import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SYNC_COMMANDS } from './sync-commands.js';

/**
 * `serial-vault` as separate processes for the multi-process tests: one-off
 * commands (`runCli`) and `serve` processes that are killed with -9 and
 * started again on the same data directory (`VaultProcess`).
 */

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
export function portOpen(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

export function patchJson(file: string, patch: (o: Record<string, unknown>) => void): void {
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
    if (this.syncPort !== undefined && SYNC_COMMANDS.syncPortFlag) args.push(SYNC_COMMANDS.syncPortFlag, String(this.syncPort));
    const env = { ...process.env, ...this.env, ...(this.syncPort !== undefined ? { [SYNC_COMMANDS.syncPortEnv]: String(this.syncPort) } : {}) };
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
    const printedSync = SYNC_COMMANDS.syncLine.exec(this.err.slice(startedAt))?.[1];
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
