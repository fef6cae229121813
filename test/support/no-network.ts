import net from 'node:net';

/**
 * Outbound network is off in tests: every socket the test process opens
 * must go to loopback (or a Unix socket). Anything else fails at once,
 * before a packet leaves, so no test reaches the outside by accident.
 * Loaded for every test file (vitest `setupFiles`).
 */

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|::1|::ffff:127(?:\.\d{1,3}){3}|\[::1\])$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

type ConnectArgs = Parameters<net.Socket['connect']>;

function destination(args: unknown[]): { host?: string; path?: string } {
  // net.connect() hands the socket its arguments already normalised, as one array.
  const [first, second] = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (typeof first === 'object' && first !== null) {
    const o = first as { host?: string; path?: string };
    return { host: o.host ?? 'localhost', ...(o.path ? { path: o.path } : {}) };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { path: first };
  return { host: typeof second === 'string' ? second : 'localhost' };
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: ConnectArgs) {
  const to = destination(args);
  if (!to.path && !isLoopback(to.host ?? '')) {
    throw new Error(`outbound network is off in tests: refused a connection to ${to.host ?? '?'} (loopback only)`);
  }
  return connect.apply(this, args);
} as net.Socket['connect'];
