import { Agent, request } from 'node:http';

export interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

/**
 * POSTs over plain node:http with keep-alive: much cheaper per request than
 * fetch, so a load generator sharing the machine's cores with the server
 * takes as little CPU as it can.
 */
export function poster(base: string): { post: (path: string, headers: Record<string, string>, body?: Buffer) => Promise<Answer>; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const target = new URL(base);
  const post = (path: string, headers: Record<string, string>, body?: Buffer) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, path: `${target.pathname}${path}`, method: 'POST', agent, headers: { ...headers, 'Content-Length': String(body?.length ?? 0) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}
