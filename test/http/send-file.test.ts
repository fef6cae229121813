import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendFileRange, type SendOutcome } from '../../src/http/send-file.js';

/** Sending a byte range of a file over a real loopback socket, through two reused buffers. */
describe('sendFileRange', () => {
  const dir = mkdtempSync(join(tmpdir(), 'send-file-'));
  // Over four of its 256 kB chunks and not a multiple of one, so both buffers turn and the last read is short.
  const content = randomBytes(4 * 256 * 1024 + 12_345);
  const path = join(dir, 'blob');
  let server: Server;
  let url: string;
  /** What the server's answers ended as, and whether each one's file was closed, in the order they ended. */
  let outcomes: Array<{ outcome: SendOutcome; closed: boolean }> = [];
  let onOutcome: (() => void) | undefined;
  let serve: (path: string) => [number, number] = () => [0, content.length - 1];

  beforeAll(async () => {
    writeFileSync(path, content);
    server = createServer((req, res) => {
      void (async () => {
        const file = await open(req.url === '/short' ? join(dir, 'short') : path, 'r');
        const [start, end] = serve(req.url ?? '/');
        res.writeHead(200, { 'Content-Length': String(end - start + 1) });
        const outcome = await sendFileRange(res, file, start, end);
        outcomes.push({ outcome, closed: file.fd === -1 });
        onOutcome?.();
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The next answer's end (or the next `n` answers'). */
  const endedAll = async (n: number) => {
    outcomes = [];
    await new Promise<void>((r) => (onOutcome = () => outcomes.length >= n && r()));
    return outcomes;
  };
  const ended = async () => {
    outcomes = [];
    const [first] = await new Promise<typeof outcomes>((r) => (onOutcome = () => r(outcomes)));
    return first as { outcome: SendOutcome; closed: boolean };
  };
  const fetchAll = (path = '/') =>
    new Promise<Buffer>((resolve, reject) =>
      get(`${url}${path}`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      }).on('error', reject),
    );

  it('sends the whole file byte for byte, and closes it', async () => {
    serve = () => [0, content.length - 1];
    const done = ended();
    expect((await fetchAll()).equals(content)).toBe(true);
    expect(await done).toEqual({ outcome: { sent: content.length, ended: 'sent' }, closed: true });
  });

  it.each([
    ['within one chunk', 10, 99],
    ['across chunk boundaries', 200_000, 900_000],
    ['the last byte', content.length - 1, content.length - 1],
  ])('sends a range %s exactly', async (_what, start, end) => {
    serve = () => [start, end];
    const done = ended();
    expect((await fetchAll()).equals(content.subarray(start, end + 1))).toBe(true);
    expect((await done).outcome).toEqual({ sent: end - start + 1, ended: 'sent' });
  });

  it('sends an empty file as an empty body', async () => {
    writeFileSync(join(dir, 'short'), '');
    serve = () => [0, -1];
    const done = ended();
    expect((await fetchAll('/short')).length).toBe(0);
    expect((await done).outcome).toEqual({ sent: 0, ended: 'sent' });
  });

  // Larger than loopback's socket buffers can hold, so the server waits on the client while it sends.
  const big = 32 * 1024 * 1024;
  const bigContent = randomBytes(big);

  it('reuses a buffer only once the socket has taken it: a client that stops reading for a while still gets every byte right', async () => {
    writeFileSync(join(dir, 'short'), bigContent);
    serve = () => [0, big - 1];
    const done = ended();
    const body = await new Promise<Buffer>((resolve, reject) => {
      get(`${url}/short`, (res) => {
        const chunks: Buffer[] = [];
        res.once('data', (c: Buffer) => {
          chunks.push(c);
          res.pause();
          setTimeout(() => {
            res.on('data', (more: Buffer) => chunks.push(more));
            res.resume();
          }, 500);
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      }).on('error', reject);
    });
    expect(body.length).toBe(big);
    expect(body.equals(bigContent)).toBe(true);
    expect((await done).outcome).toEqual({ sent: big, ended: 'sent' });
  });

  it('stops reading when the client goes away, says the answer was cut, and closes the file', async () => {
    writeFileSync(join(dir, 'short'), bigContent);
    serve = () => [0, big - 1];
    const done = ended();
    await new Promise<void>((resolve) => {
      const req = get(`${url}/short`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
    });
    const { outcome, closed } = await done;
    expect(outcome.ended).toBe('cut');
    expect(outcome.sent).toBeLessThan(big);
    expect(closed).toBe(true);
  });

  it('ends an answer queued behind another on a pipelined connection when the client goes away', async () => {
    writeFileSync(join(dir, 'short'), bigContent);
    serve = () => [0, big - 1];
    const done = endedAll(2);
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('GET /short HTTP/1.1\r\nHost: x\r\n\r\nGET /short HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.once('data', () => socket.destroy());
    const both = await done;
    expect(both.map((o) => o.outcome.ended)).toEqual(['cut', 'cut']);
    expect(both.every((o) => o.closed)).toBe(true);
  });

  it('cuts the connection when the file is shorter than the range, instead of sending too little as if complete', async () => {
    writeFileSync(join(dir, 'short'), content.subarray(0, 300_000));
    serve = () => [0, 999_999];
    const done = ended();
    const got = fetchAll('/short').then(
      () => 'completed',
      (e: NodeJS.ErrnoException) => e.code,
    );
    const { outcome, closed } = await done;
    expect(outcome.ended).toBe('failed');
    expect(outcome.sent).toBe(300_000);
    expect(closed).toBe(true);
    expect(await got).not.toBe('completed');
  });
});
