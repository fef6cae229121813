import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../support/fault-proxy.js';

/** An echo server that prefixes each answer with its name, so a test can tell which target answered. */
async function echoServer(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from(`${name}:`), d])));
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

interface Client {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves when the socket closes: with the error code if it was an error (ECONNRESET for an RST). */
  readonly closed: Promise<string | undefined>;
}

function open(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    let error: string | undefined;
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    const closed = new Promise<string | undefined>((r) => socket.once('close', () => r(error)));
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

/** Opens a connection the proxy is expected to reset: the RST may come before or after the client sees it connected. */
async function refusedWith(port: number): Promise<string | undefined> {
  try {
    const c = await open(port);
    const error = await c.closed;
    expect(c.received()).toBe('');
    return error;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends `text` and waits for `expected` to have arrived; returns how long it took. */
async function roundTrip(c: Client, text: string, expected: string): Promise<number> {
  const before = c.received().length;
  const start = performance.now();
  c.socket.write(text);
  await until(() => c.received().slice(before).includes(expected));
  return performance.now() - start;
}

describe('the TCP fault proxy', () => {
  let a: { server: Server; port: number };
  let b: { server: Server; port: number };
  beforeAll(async () => {
    a = await echoServer('a');
    b = await echoServer('b');
  });
  afterAll(async () => {
    for (const s of [a, b]) await new Promise((r) => s.server.close(r));
  });

  it('forwards both ways and counts the bytes', async () => {
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: a.port } });
    try {
      const c = await open(proxy.port);
      await roundTrip(c, 'hello', 'a:hello');
      expect(proxy.stats).toMatchObject({ accepted: 1, active: 1, bytesUp: 5, bytesDown: 7 });
      c.socket.end();
      expect(await c.closed).toBeUndefined();
      await until(() => proxy.stats.active === 0);
    } finally {
      await proxy.close();
    }
  });

  it('cut() closes the open connections and resets new ones until heal()', async () => {
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: a.port } });
    try {
      const c = await open(proxy.port);
      await roundTrip(c, 'x', 'a:x');
      proxy.cut();
      expect(await c.closed).toBe('ECONNRESET');
      expect(await refusedWith(proxy.port)).toBe('ECONNRESET');
      expect(proxy.stats.refused).toBe(1);
      proxy.heal();
      const again = await open(proxy.port);
      await roundTrip(again, 'y', 'a:y');
      again.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('delay(ms) adds latency each way, keeping chunks in order', async () => {
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: a.port } });
    try {
      const c = await open(proxy.port);
      const fast = await roundTrip(c, 'p', 'a:p');
      proxy.delay(150);
      const slow = await roundTrip(c, 'q', 'a:q');
      // 150 ms up and 150 ms down.
      expect(slow).toBeGreaterThanOrEqual(290);
      expect(slow).toBeGreaterThan(fast + 250);
      // Several chunks sent apart arrive in order and are not serialised behind each other's delay.
      const before = c.received().length;
      const start = performance.now();
      for (const ch of ['1', '2', '3', '4', '5']) {
        c.socket.write(ch);
        await new Promise((r) => setTimeout(r, 10));
      }
      await until(() => c.received().slice(before).includes('a:5'));
      expect(c.received().slice(before).replace(/a:/g, '')).toBe('12345');
      expect(performance.now() - start).toBeLessThan(900);
      proxy.delay(0);
      expect(await roundTrip(c, 'r', 'a:r')).toBeLessThan(150);
      c.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('throttle(bytes/s) caps the bandwidth', async () => {
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: a.port } });
    try {
      const c = await open(proxy.port);
      proxy.throttle(20_000);
      const ms = await roundTrip(c, 'z'.repeat(10_000), `a:${'z'.repeat(100)}`);
      await until(() => c.received().length >= 10_002, 5000);
      // 10 kB up at 20 kB/s: at least half a second.
      expect(ms).toBeGreaterThanOrEqual(400);
      c.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('reset() destroys the open connections with an RST and takes new ones', async () => {
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: a.port } });
    try {
      const c1 = await open(proxy.port);
      const c2 = await open(proxy.port);
      await roundTrip(c1, '1', 'a:1');
      await roundTrip(c2, '2', 'a:2');
      proxy.reset();
      expect(await c1.closed).toBe('ECONNRESET');
      expect(await c2.closed).toBe('ECONNRESET');
      expect(proxy.stats.resets).toBe(2);
      const c3 = await open(proxy.port);
      await roundTrip(c3, '3', 'a:3');
      c3.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('round-robin sends each new connection to the next target, and a dead target costs only its connections', async () => {
    const proxy = await FaultProxy.start({ target: [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: b.port }], mode: 'round-robin' });
    try {
      const answers: string[] = [];
      for (let i = 0; i < 4; i++) {
        const c = await open(proxy.port);
        c.socket.write('n');
        await until(() => c.received().length >= 3);
        answers.push(c.received());
        c.socket.destroy();
      }
      expect(answers).toEqual(['a:n', 'b:n', 'a:n', 'b:n']);
      expect(proxy.stats.perTarget).toEqual({ [`127.0.0.1:${a.port}`]: 2, [`127.0.0.1:${b.port}`]: 2 });
      expect(proxy.stats.perTargetBytes).toEqual({ [`127.0.0.1:${a.port}`]: { up: 2, down: 6 }, [`127.0.0.1:${b.port}`]: { up: 2, down: 6 } });

      // A target that is down: the client's connection is reset, the next one goes to the live target.
      const dead = await echoServer('dead');
      await new Promise((r) => dead.server.close(r));
      proxy.setTargets([{ host: '127.0.0.1', port: dead.port }, { host: '127.0.0.1', port: a.port }]);
      expect(await refusedWith(proxy.port)).toBe('ECONNRESET');
      expect(proxy.stats.upstreamErrors).toBe(1);
      const toLive = await open(proxy.port);
      await roundTrip(toLive, 'm', 'a:m');
      toLive.socket.destroy();
    } finally {
      await proxy.close();
    }
  });
});
