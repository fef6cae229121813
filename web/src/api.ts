/** The one way the dashboard talks to the vault: the documented admin API, same origin, with the session cookie. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

/** Set once from GET /api/v1/me; every change sends it (the API refuses a session's change without it). */
export function useCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Off to the OpenID provider, coming back to the page the person was on. */
export function signIn(): void {
  const here = `${location.pathname}${location.search}`;
  location.assign(`/auth/login?return_to=${encodeURIComponent(here)}`);
}

async function refusal(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { code?: string; message?: string };
    return new ApiError(res.status, body.code ?? `HTTP_${res.status}`, body.message ?? res.statusText);
  } catch {
    return new ApiError(res.status, `HTTP_${res.status}`, `the vault answered ${res.status} ${res.statusText}`);
  }
}

export interface CallOptions {
  /** A raw body (a file) with its media type instead of JSON. */
  readonly raw?: { body: Blob | string; type: string };
}

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let payload: BodyInit | undefined;
  if (o.raw) {
    headers['content-type'] = o.raw.type;
    payload = o.raw.body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', ...(payload !== undefined ? { body: payload } : {}) });
  } catch {
    throw new ApiError(0, 'ERR_NETWORK', 'cannot reach the vault: check the connection and try again');
  }
  if (!res.ok) {
    const e = await refusal(res);
    // A session that ended (expired, signed out elsewhere) signs in again and comes back.
    if (res.status === 401 && e.code === 'ERR_UNAUTHENTICATED') signIn();
    throw e;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Query strings without the empty fields of a filter form. */
export function query(fields: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
