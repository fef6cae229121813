import { createHmac, timingSafeEqual } from 'node:crypto';

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  readonly maxAgeSeconds: number;
  readonly secure: boolean;
  readonly httpOnly?: boolean;
}

/**
 * A Set-Cookie value: path `/`, SameSite=Lax (the sign-in callback is a
 * top-level navigation from the provider, which Strict would strip).
 */
export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  return [`${name}=${value}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`, 'SameSite=Lax', ...(o.httpOnly === false ? [] : ['HttpOnly']), ...(o.secure ? ['Secure'] : [])].join('; ');
}

/** Values the browser carries but must not be able to forge: JSON, base64url, with an HMAC. */
export class CookieSealer {
  constructor(private readonly key: Buffer) {}

  private mac(purpose: string, data: string): Buffer {
    return createHmac('sha256', this.key).update(`${purpose}\0${data}`).digest();
  }

  seal(purpose: string, value: unknown): string {
    const data = Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${data}.${this.mac(purpose, data).toString('base64url')}`;
  }

  open<T>(purpose: string, sealed: string | undefined): T | undefined {
    // Exactly `data.mac`: a value with more parts is not one we sealed.
    const parts = (sealed ?? '').split('.');
    const [data, mac] = parts;
    if (parts.length !== 2 || !data || !mac) return undefined;
    const expected = this.mac(purpose, data);
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      return JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** The CSRF token of a session: derived, so nothing more is stored. */
  csrfFor(sessionId: string): string {
    return this.mac('csrf', sessionId).toString('base64url');
  }

  checkCsrf(sessionId: string, given: string | undefined): boolean {
    if (!given) return false;
    const expected = Buffer.from(this.csrfFor(sessionId));
    const actual = Buffer.from(given);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
