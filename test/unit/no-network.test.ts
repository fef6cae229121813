import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isLoopback } from '../support/no-network.js';

describe('outbound network in tests', () => {
  it('is refused before anything is sent', async () => {
    // 192.0.2.1 is TEST-NET-1: never routed, and not even tried here.
    expect(() => connect(443, '192.0.2.1')).toThrow(/outbound network is off in tests/);
    await expect(fetch('http://192.0.2.1/')).rejects.toThrow();
  });

  it('lets loopback through', async () => {
    const server = createServer((s) => s.end('hi'));
    const port = await new Promise<number>((res) => server.listen(0, '127.0.0.1', () => res((server.address() as { port: number }).port)));
    try {
      const text = await new Promise<string>((res, rej) => {
        const s = connect(port, '127.0.0.1');
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('end', () => res(got));
        s.on('error', rej);
      });
      expect(text).toBe('hi');
    } finally {
      server.close();
    }
    expect(['localhost', '127.0.0.1', '::1', '127.1.2.3'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', 'example.com', '::ffff:10.0.0.1', ''].some(isLoopback)).toBe(false);
  });
});
