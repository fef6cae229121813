import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy for fault tests: it stands between an appliance and central
 * (or in front of several central replicas) and can cut, slow, throttle and
 * reset the link. It knows nothing of HTTP: what it does, a real network
 * does too.
 *
 * - `cut()`: every connection is closed and new ones are reset at once,
 *   until `heal()`.
 * - `delay(ms)`: every chunk is held `ms` in both directions (latency, not
 *   a bandwidth cap: chunks stay pipelined and in order).
 * - `throttle(bytesPerSecond)`: a bandwidth cap per direction and connection.
 * - `reset()`: the connections open now are destroyed with an RST
 *   (`resetAndDestroy`); new ones are taken as usual.
 * - `mode: 'round-robin'`: each new connection goes to the next target, so
 *   requests alternate between replicas as connections are made.
 */

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

export interface ProxyStats {
  /** Connections taken from clients (refused ones included). */
  accepted: number;
  /** Connections refused (reset) while cut. */
  refused: number;
  /** Connections open now. */
  active: number;
  /** Connections to a target that failed (target down). */
  upstreamErrors: number;
  /** Client → target bytes forwarded. */
  bytesUp: number;
  /** Target → client bytes forwarded. */
  bytesDown: number;
  /** Connections ended by `reset()`. */
  resets: number;
  /** Connections made per target, by `host:port`. */
  perTarget: Record<string, number>;
  /** Bytes forwarded per target, by `host:port`: what each one really served. */
  perTargetBytes: Record<string, { up: number; down: number }>;
}

export interface FaultProxyOptions {
  /** One target, or several (with `mode: 'round-robin'`). */
  readonly target: ProxyTarget | readonly ProxyTarget[];
  readonly mode?: 'first' | 'round-robin';
  /** Loopback port to listen on (0: a free one). */
  readonly port?: number;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  /** `host:port` of its target. */
  target: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FaultProxy {
  private server: Server | undefined;
  private targets: ProxyTarget[];
  private readonly mode: 'first' | 'round-robin';
  private next = 0;
  private isCut = false;
  private delayMs = 0;
  private bytesPerSecond = 0;
  private readonly pairs = new Set<Pair>();
  readonly stats: ProxyStats = { accepted: 0, refused: 0, active: 0, upstreamErrors: 0, bytesUp: 0, bytesDown: 0, resets: 0, perTarget: {}, perTargetBytes: {} };

  private constructor(options: FaultProxyOptions) {
    this.targets = Array.isArray(options.target) ? [...(options.target as readonly ProxyTarget[])] : [options.target as ProxyTarget];
    if (this.targets.length === 0) throw new Error('a fault proxy needs at least one target');
    this.mode = options.mode ?? 'first';
  }

  /** Starts a proxy on loopback. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await proxy.listen(options.port ?? 0);
    return proxy;
  }

  private listen(port: number): Promise<void> {
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:PORT/` */
  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  get isCutNow(): boolean {
    return this.isCut;
  }

  /** Replaces the targets (a replica restarted elsewhere); open connections stay where they are. */
  setTargets(targets: ProxyTarget | readonly ProxyTarget[]): void {
    this.targets = Array.isArray(targets) ? [...(targets as readonly ProxyTarget[])] : [targets as ProxyTarget];
  }

  /** Closes every connection, and resets new ones until `heal()`. */
  cut(): void {
    this.isCut = true;
    for (const pair of this.pairs) this.destroy(pair, true);
  }

  heal(): void {
    this.isCut = false;
  }

  /** Latency added to every chunk, both directions (0: none). */
  delay(ms: number): void {
    this.delayMs = Math.max(0, ms);
  }

  /** A bandwidth cap per direction and connection (0: none). */
  throttle(bytesPerSecond: number): void {
    this.bytesPerSecond = Math.max(0, bytesPerSecond);
  }

  /** Destroys the connections open now with an RST. */
  reset(): void {
    for (const pair of this.pairs) {
      this.stats.resets++;
      this.destroy(pair, true);
    }
  }

  /** Clears delay and throttle, and heals a cut. */
  clear(): void {
    this.isCut = false;
    this.delayMs = 0;
    this.bytesPerSecond = 0;
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) this.destroy(pair, false);
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private pickTarget(): ProxyTarget {
    if (this.mode === 'first') return this.targets[0]!;
    const t = this.targets[this.next % this.targets.length]!;
    this.next++;
    return t;
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    if (this.isCut) {
      this.stats.refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const target = this.pickTarget();
    const key = `${target.host}:${target.port}`;
    const pair: Pair = { client, upstream: undefined, target: key };
    this.pairs.add(pair);
    this.stats.active = this.pairs.size;
    this.stats.perTarget[key] = (this.stats.perTarget[key] ?? 0) + 1;
    this.stats.perTargetBytes[key] ??= { up: 0, down: 0 };
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    pair.upstream = upstream;
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      this.pipe(pair, client, upstream, 'up');
      this.pipe(pair, upstream, client, 'down');
      client.resume();
    });
    const onError = (side: Socket) => () => {
      if (side === upstream && !connected) this.stats.upstreamErrors++;
      this.destroy(pair, true);
    };
    upstream.on('error', onError(upstream));
    client.on('error', onError(client));
    const onClose = () => {
      if (this.pairs.has(pair)) this.destroy(pair, false);
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
  }

  /**
   * Forwards `from` to `to` in order; each chunk waits until its due time
   * (arrival + delay, and after the previous chunk under a throttle).
   */
  private pipe(pair: Pair, from: Socket, to: Socket, direction: 'up' | 'down'): void {
    let chain = Promise.resolve();
    let freeAt = 0; // when the throttled link is free again
    from.on('data', (chunk: Buffer) => {
      const due = Date.now() + this.delayMs;
      chain = chain.then(async () => {
        let at = due;
        if (this.bytesPerSecond > 0) {
          at = Math.max(at, freeAt);
          freeAt = at + (chunk.length / this.bytesPerSecond) * 1000;
          at = freeAt;
        }
        const wait = at - Date.now();
        if (wait > 0) await sleep(wait);
        if (!this.pairs.has(pair) || to.destroyed) return;
        const perTarget = this.stats.perTargetBytes[pair.target]!;
        if (direction === 'up') {
          this.stats.bytesUp += chunk.length;
          perTarget.up += chunk.length;
        } else {
          this.stats.bytesDown += chunk.length;
          perTarget.down += chunk.length;
        }
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
    });
    from.once('end', () => {
      chain = chain.then(() => {
        if (!to.destroyed) to.end();
      });
    });
  }

  private destroy(pair: Pair, rst: boolean): void {
    if (!this.pairs.delete(pair)) return;
    this.stats.active = this.pairs.size;
    for (const s of [pair.client, pair.upstream]) {
      if (!s || s.destroyed) continue;
      s.on('error', () => undefined);
      // resetAndDestroy needs a connected TCP handle; a socket still connecting is just destroyed.
      if (rst && !s.connecting) s.resetAndDestroy();
      else s.destroy();
    }
  }
}
