import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  /** What the server's next answer ended as, and whether its file was closed. */
  let next: ((r: { outcome: SendOutcome; closed: boolean }) => void) | undefined;
  let serve: (path: string) => [number, number] = () => [0, content.length - 1];

  beforeAll(async () => {
    writeFileSync(path, content);
    server = createServer((req, res) => {
      void (async () => {
        const file = await open(req.url === '/short' ? join(dir, 'short') : path, 'r');
        const [start, end] = serve(req.url ?? '/');
        res.writeHead(200, { 'Content-Length': String(end - start + 1) });
        const outcome = await sendFileRange(res, file, start, end);
        next?.({ outcome, closed: file.fd === -1 });
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const ended = () => new Promise<{ outcome: SendOutcome; closed: boolean }>((r) => (next = r));
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

  it('stops reading when the client goes away, says the answer was cut, and closes the file', async () => {
    // Larger than loopback's socket buffers can hold, so the client is gone before it is all written.
    const big = 32 * 1024 * 1024;
    writeFileSync(join(dir, 'short'), Buffer.alloc(big, 7));
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
