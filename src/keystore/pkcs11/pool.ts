import { Worker } from 'node:worker_threads';
import { KeyStoreError } from '../errors.js';
import { replyError, type PoolOptions, type Reply } from './pool-protocol.js';

export type { PoolEvent, PoolOptions, WorkerConfig } from './pool-protocol.js';

interface Job {
  readonly op: string;
  readonly args: unknown;
  readonly what: string;
  readonly timeoutMs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface InFlight {
  readonly job: Job;
  readonly seq: number;
  readonly timer: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  /** Posted to the worker, oldest first. The worker runs them one at a time, in order. */
  inFlight: InFlight[];
  seq: number;
}

/**
 * Jobs posted to a worker ahead of time: the next one is already waiting in
 * its message port when the current one finishes, so the session never idles
 * for a round trip to the main thread. Still one operation at a time per session.
 */
export const IN_FLIGHT_PER_SIGNER = 2;
const DEPTH = IN_FLIGHT_PER_SIGNER;

/**
 * A fixed set of signer threads, each with its own PKCS#11 session, running
 * one operation at a time, and a bounded queue in front of them. A worker
 * that does not answer in time is replaced; its caller gets
 * ERR_HSM_UNAVAILABLE rather than waiting on a hung HSM.
 */
export class SignerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private closing = false;
  /** While another keystore re-initialises the module: nothing is posted to the workers. */
  private paused = false;
  private fatal: KeyStoreError | undefined;
  private resetting: Promise<void> | undefined;
  private nextResetAt = 0;
  private resetBackoff: number;
  private lastProblem = '';

  constructor(private readonly options: PoolOptions) {
    this.resetBackoff = options.resetBackoffMs ?? 500;
  }

  /** Starts one worker and logs in through it before starting the others, so a wrong PIN is tried once. */
  async start(): Promise<void> {
    this.slots.push(this.spawn(0));
    await this.run('ping', {}, 'log in to the token', 30_000);
    for (let i = 1; i < this.options.size; i++) this.slots.push(this.spawn(i));
  }

  /** True while the pool has no working connection to the HSM. */
  get down(): boolean {
    return this.slots.length === 0 || this.resetting !== undefined;
  }

  /**
   * Drops every session and re-connects in the background, at most once at a
   * time and with doubling backoff between failed attempts.
   */
  reconnect(reason: string): void {
    if (this.closing || this.fatal || this.resetting || Date.now() < this.nextResetAt) return;
    this.lastProblem = reason;
    this.options.onEvent?.({ type: 'reconnecting', reason });
    this.resetting = (async () => {
      const deadline = Date.now() + 5000;
      while (this.busy > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await this.stopWorkers();
      await this.options.reinitialize();
      this.resetting = undefined; // let start() dispatch its own login
      await this.start();
    })()
      .then(() => {
        this.resetBackoff = this.options.resetBackoffMs ?? 500;
        this.nextResetAt = 0;
        this.options.onEvent?.({ type: 'reconnected' });
      })
      .catch(async (e: unknown) => {
        await this.stopWorkers();
        const retryInMs = this.resetBackoff;
        this.nextResetAt = Date.now() + retryInMs;
        this.resetBackoff = Math.min(this.resetBackoff * 2, this.options.maxResetBackoffMs ?? 30_000);
        this.lastProblem = e instanceof Error ? e.message : String(e);
        this.options.onEvent?.({ type: 'reconnect-failed', error: e as Error, retryInMs });
      })
      .finally(() => {
        this.resetting = undefined;
      });
  }

  /** Resolves when a reconnection under way has finished (for tests and shutdown). */
  async settled(): Promise<void> {
    await this.resetting;
  }

  private async stopWorkers(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      for (const { job, timer } of slot.inFlight.splice(0)) {
        clearTimeout(timer);
        job.reject(new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot ${job.what}: the HSM connection is being re-established`));
      }
      slot.worker.removeAllListeners();
      slot.worker.on('error', () => undefined);
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
    for (const job of this.queue.splice(0)) {
      job.reject(new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot ${job.what}: the HSM connection is being re-established`));
    }
  }

  get size(): number {
    return this.slots.length;
  }
  get busy(): number {
    return this.slots.filter((s) => s.inFlight.length > 0).length;
  }
  get queued(): number {
    return this.queue.length;
  }
  get loginError(): KeyStoreError | undefined {
    return this.fatal;
  }

  run<T>(op: string, args: unknown, what: string, timeoutMs: number): Promise<T> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.closing) return Promise.reject(new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot ${what}: the keystore is closing`));
    if (this.down) {
      this.reconnect(this.lastProblem || 'no HSM session');
      return Promise.reject(
        new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot ${what}: the HSM is not available${this.lastProblem ? ` (${this.lastProblem})` : ''}; reconnecting`),
      );
    }
    const room = !this.paused && this.slots.some((s) => s.inFlight.length < DEPTH);
    if (!room && this.queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new KeyStoreError('ERR_HSM_BUSY', `cannot ${what}: all ${this.slots.length} HSM signers are busy and ${this.queue.length} requests are waiting`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, args, what, timeoutMs, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /**
   * Lets the operations in flight finish and closes every session, then
   * posts nothing to the workers until `resume`; callers wait in the queue
   * meanwhile. For another keystore re-initialising the module.
   */
  async pause(): Promise<void> {
    this.paused = true;
    const deadline = Date.now() + 5000;
    while (this.busy > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    await Promise.all(this.slots.filter((s) => s.inFlight.length === 0).map((s) => this.closeSession(s)));
  }

  resume(): void {
    this.paused = false;
    this.dispatch();
  }

  /** Asks a worker to log out and close its session; a thread that does not answer gets 2 s. */
  private async closeSession(slot: Slot): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        slot.worker.once('message', () => resolve());
        slot.worker.postMessage({ seq: ++slot.seq, op: 'close', args: {} });
      }),
      new Promise((r) => (timer = setTimeout(r, 2000))),
    ]);
    clearTimeout(timer);
  }

  /** Stops taking work, lets queued and in-flight operations finish (within `graceMs`), closes sessions. */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    const deadline = Date.now() + graceMs;
    while ((this.queue.length > 0 || this.busy > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const job of this.queue.splice(0)) job.reject(new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot ${job.what}: the keystore closed`));
    await Promise.all(
      this.slots.map(async (slot) => {
        // Log out and close the session before the thread goes.
        if (slot.inFlight.length === 0) await this.closeSession(slot);
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(index: number): Slot {
    const worker = new Worker(this.options.workerUrl, { workerData: this.options.config });
    const slot: Slot = { worker, inFlight: [], seq: 0 };
    worker.on('message', (reply: Reply) => this.settle(slot, reply));
    worker.on('error', (e) => this.replace(slot, index, `worker failed: ${e.message}`));
    worker.on('exit', (code) => {
      if (!this.closing) this.replace(slot, index, `worker exited with code ${code}`);
    });
    worker.unref();
    return slot;
  }

  private dispatch(): void {
    if (this.paused) return;
    for (let depth = 1; depth <= DEPTH; depth++) {
      for (const slot of this.slots) {
        if (slot.inFlight.length >= depth) continue;
        const job = this.queue.shift();
        if (!job) return;
        const seq = ++slot.seq;
        // A job posted behind another may wait for it: its clock covers both.
        const timeoutMs = job.timeoutMs * (slot.inFlight.length + 1);
        const timer = setTimeout(() => this.replace(slot, this.slots.indexOf(slot), `no answer within ${timeoutMs} ms`), timeoutMs);
        slot.inFlight.push({ job, seq, timer });
        slot.worker.postMessage({ seq, op: job.op, args: job.args });
      }
    }
  }

  private settle(slot: Slot, reply: Reply): void {
    const head = slot.inFlight[0];
    if (!head || reply.seq !== head.seq) return; // a late answer after a reset
    slot.inFlight.shift();
    clearTimeout(head.timer);
    const { job } = head;
    if (reply.ok) {
      job.resolve(reply.value);
    } else {
      const e = reply.error;
      const error = replyError(e, job.what);
      if (error.code === 'ERR_HSM_LOGIN_FAILED' || error.code === 'ERR_HSM_PIN_LOCKED') {
        this.fatal = error;
        this.options.onEvent?.({ type: 'login-failed', error });
        for (const queued of this.queue.splice(0)) queued.reject(error);
      }
      job.reject(error);
      if (error.code === 'ERR_HSM_UNAVAILABLE' && job.op !== 'ping') {
        // The worker already re-opened its session a few times: reconnect from scratch.
        this.lastProblem = e.message;
        setImmediate(() => this.reconnect(e.message));
      }
    }
    this.dispatch();
  }

  /** Replaces a worker that hung, failed or exited; its callers get ERR_HSM_UNAVAILABLE. */
  private replace(slot: Slot, index: number, reason: string): void {
    if (this.closing) return;
    const i = this.slots.indexOf(slot);
    if (i === -1) return;
    const lost = slot.inFlight.splice(0);
    for (const { timer } of lost) clearTimeout(timer);
    slot.worker.removeAllListeners();
    slot.worker.on('error', () => undefined); // it is being thrown away
    void slot.worker.terminate();
    this.slots[i] = this.spawn(index);
    this.options.onEvent?.({ type: 'worker-replaced', index, reason });
    for (const { job } of lost) job.reject(new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot ${job.what}: the HSM signer was reset (${reason})`));
    this.dispatch();
  }
}
