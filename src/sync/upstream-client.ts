import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { VaultError } from '../errors.js';
import type { KeyStore } from '../keystore/keystore.js';
import { challengeDigest } from './appliance-auth.js';
import { SyncError, type SyncErrorCode } from './errors.js';
import { SYNC_RETRY_POLICY, backoffDelay, isRetryable, retryAfterMs, shouldRetry, type AttemptOutcome, type RetryPolicy } from './retry-policy.js';
import type { Upstream, UpstreamRequest } from './upstream.js';

/** Central's refusal of a call, with the code and sentence it answered (a code of another module than sync). */
export class UpstreamRefusal extends VaultError {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'UpstreamRefusal';
  }
}

/** The appliance's identity towards central: its name and the HSM key that signs its challenges. */
export interface ApplianceIdentity {
  readonly name: string;
  /** HSM label of the identity key (setting `sync-identity-label`). */
  readonly label: string;
  readonly keystore: KeyStore;
}

export interface UpstreamClientOptions {
  /** Central's sync listener, e.g. https://central.example:8083/ (a path prefix is kept). */
  readonly url: string;
  /** PEM certificate authorities central's TLS certificate is checked against; default the system's. */
  readonly caFile?: string | undefined;
  /** The longest any one call may take (config.upstream.timeoutSeconds). */
  readonly timeoutMs: number;
  /** The largest JSON answer read; a longer one is cut off and refused. */
  readonly maxResponseBytes?: number;
  readonly retry?: RetryPolicy;
  /** Tests: a wait that does not wait, a fixed jitter. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const MAX_JSON_BYTES = 64 * 1024 * 1024;
/** A token is renewed this long before central would refuse it. */
const TOKEN_MARGIN_MS = 30_000;
const SYNC_CODES = new Set<string>(['ERR_ENROLMENT_TOKEN_INVALID', 'ERR_ENROLMENT_NOT_EMPTY', 'ERR_ENROLMENT_FAILED', 'ERR_APPLIANCE_UNKNOWN', 'ERR_APPLIANCE_EXISTS', 'ERR_APPLIANCE_DISABLED', 'ERR_APPLIANCE_AUTH', 'ERR_SYNC_NONCE_INVALID', 'ERR_SYNC_CURSOR_AHEAD', 'ERR_SYNC_OUT_OF_ORDER', 'ERR_SYNC_BATCH_INVALID', 'ERR_SYNC_LEASE_INVALID', 'ERR_SYNC_LEASE_EXHAUSTED', 'ERR_REPLICATED_READ_ONLY', 'ERR_SYNC_ROLE', 'ERR_UPSTREAM_UNAVAILABLE'] satisfies SyncErrorCode[]);

interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

class ConnectionFailed extends Error {}

const unavailable = (url: string, why: string) => new SyncError('ERR_UPSTREAM_UNAVAILABLE', `central (${url}) cannot be reached or answered with a fault (${why}): the appliance goes on offline and tries again`);

/**
 * How an appliance calls central (the `Upstream` interface): every call
 * bounded in time and size, TLS checked against the configured CA,
 * authenticated by a sync token got by signing a nonce with the HSM
 * identity key and renewed once when central says it has expired. Faults
 * that may pass are retried by SYNC_RETRY_POLICY, then reported as
 * ERR_UPSTREAM_UNAVAILABLE; refusals arrive with central's code.
 */
export class UpstreamClient implements Upstream {
  readonly url: string;
  private readonly base: URL;
  private readonly ca: Buffer | undefined;
  private readonly policy: RetryPolicy;
  private token: { value: string; renewAt: number } | undefined;
  private pendingToken: Promise<string> | undefined;

  constructor(
    private readonly options: UpstreamClientOptions,
    private readonly identity?: ApplianceIdentity,
  ) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.url = this.base.toString();
    this.ca = options.caFile ? readFileSync(options.caFile) : undefined;
    this.policy = options.retry ?? SYNC_RETRY_POLICY;
  }

  async request<T>(method: 'GET' | 'POST', path: string, options: UpstreamRequest = {}): Promise<T> {
    const answer = await this.authenticated((token) => this.attempts(method, path, options, token));
    return parseJson<T>(answer.body, this.url);
  }

  async stream(path: string, options: UpstreamRequest = {}): Promise<Readable> {
    return this.authenticated(async (token) => {
      const res = await this.withRetries(() => this.open('GET', path, options, token));
      const answer = await this.refuseUnlessOk(res);
      if (answer) throw answer;
      return res;
    });
  }

  /** A call made before the appliance has an identity (enrolment): no token, no retry (an enrolment spends its token once). */
  async post<T>(path: string, json: unknown): Promise<T> {
    let res: IncomingMessage;
    try {
      res = await this.open('POST', path, { json }, undefined);
    } catch (e) {
      if (e instanceof ConnectionFailed) throw unavailable(this.url, e.message);
      throw e;
    }
    const refusal = await this.refuseUnlessOk(res);
    if (refusal) throw refusal;
    return parseJson<T>(await this.readBounded(res), this.url);
  }

  /** Runs `call` with a sync token; once more with a new token when central refuses it as unknown or expired. */
  private async authenticated<R>(call: (token: string | undefined) => Promise<R>): Promise<R> {
    if (!this.identity) return call(undefined);
    const token = await this.currentToken();
    try {
      return await call(token);
    } catch (e) {
      if (!(e instanceof SyncError && e.code === 'ERR_APPLIANCE_AUTH')) throw e;
      this.token = undefined;
      return call(await this.currentToken());
    }
  }

  private currentToken(): Promise<string> {
    if (this.token && Date.now() < this.token.renewAt) return Promise.resolve(this.token.value);
    // Calls that find the token stale together share one new session.
    this.pendingToken ??= this.newToken().finally(() => (this.pendingToken = undefined));
    return this.pendingToken;
  }

  private async newToken(): Promise<string> {
    const identity = this.identity!;
    const { nonce } = parseJson<{ nonce: string }>((await this.attempts('POST', 'nonces', {}, undefined)).body, this.url);
    const signature = Buffer.from(await identity.keystore.signDigest(identity.label, challengeDigest(nonce))).toString('base64');
    const session = parseJson<{ token: string; expiresAt: string }>((await this.attempts('POST', 'sessions', { json: { appliance: identity.name, nonce, signature } }, undefined)).body, this.url);
    const expires = Date.parse(session.expiresAt);
    this.token = { value: session.token, renewAt: Number.isNaN(expires) ? Date.now() : Math.max(Date.now(), expires - TOKEN_MARGIN_MS) };
    return session.token;
  }

  /** One call, retried by the policy; a JSON answer read within bounds. */
  private async attempts(method: 'GET' | 'POST', path: string, options: UpstreamRequest, token: string | undefined): Promise<Answer> {
    const res = await this.withRetries(() => this.open(method, path, options, token));
    const refusal = await this.refuseUnlessOk(res);
    if (refusal) throw refusal;
    return { status: res.statusCode ?? 0, headers: res.headers, body: await this.readBounded(res) };
  }

  private async withRetries(open: () => Promise<IncomingMessage>): Promise<IncomingMessage> {
    for (let attempt = 1; ; attempt++) {
      let outcome: AttemptOutcome;
      let res: IncomingMessage | undefined;
      let why: string;
      try {
        res = await open();
        outcome = { status: res.statusCode ?? 0 };
        if (!isRetryable(outcome)) return res;
        why = `HTTP ${res.statusCode}`;
      } catch (e) {
        if (!(e instanceof ConnectionFailed)) throw e;
        outcome = { connectionError: true };
        why = e.message;
      }
      if (!shouldRetry(this.policy, attempt, outcome)) {
        if (res) {
          // The last fault: central's own sentence, if it gave one, says more than the status.
          const refusal = await this.refuseUnlessOk(res);
          throw unavailable(this.url, refusal ? `${why}: ${refusal.message}` : why);
        }
        throw unavailable(this.url, why);
      }
      const wait = backoffDelay(this.policy, attempt, this.options.random, retryAfterMs(res?.headers['retry-after'] as string | undefined));
      res?.resume();
      await (this.options.sleep ?? sleep)(wait);
    }
  }

  /** Sends one request; resolves with the answer's head, rejects with ConnectionFailed when there is none in time. */
  private open(method: 'GET' | 'POST', path: string, options: UpstreamRequest, token: string | undefined): Promise<IncomingMessage> {
    const url = new URL(path.replace(/^\/?(sync\/v1\/)?/, 'sync/v1/'), this.base);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, String(v));
    const body = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const headers: Record<string, string | number> = { accept: 'application/json', ...(token ? { authorization: `Appliance ${token}` } : {}), ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : { 'content-length': 0 }) };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, ...(this.ca ? { ca: this.ca } : {}), signal: AbortSignal.timeout(timeoutMs) }, (res) => {
        // The rest of the answer gets the same time again, then it is cut.
        res.setTimeout(timeoutMs, () => res.destroy(new ConnectionFailed(`no data for ${timeoutMs} ms`)));
        resolve(res);
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(new ConnectionFailed(e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : (e.code ?? e.message))));
      req.end(body);
    });
  }

  /** Central's refusal as an error (undefined for a 2xx answer), its body read within bounds. */
  private async refuseUnlessOk(res: IncomingMessage): Promise<VaultError | undefined> {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return undefined;
    let code = 'ERR_UPSTREAM_UNAVAILABLE';
    let message = `central answered HTTP ${status}`;
    let detail: Record<string, unknown> | undefined;
    try {
      const parsed = JSON.parse((await this.readBounded(res, 64 * 1024)).toString('utf8')) as { error?: { code?: unknown; message?: unknown; detail?: unknown } };
      if (typeof parsed.error?.code === 'string') code = parsed.error.code;
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
      if (parsed.error?.detail && typeof parsed.error.detail === 'object') detail = parsed.error.detail as Record<string, unknown>;
    } catch {
      // Not our JSON (a proxy's page): the status says enough.
    }
    if (isRetryable({ status })) return unavailable(this.url, message);
    return SYNC_CODES.has(code) ? new SyncError(code as SyncErrorCode, message, detail) : new UpstreamRefusal(code, message, status);
  }

  private readBounded(res: IncomingMessage, limit = this.options.maxResponseBytes ?? MAX_JSON_BYTES): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          res.destroy();
          reject(unavailable(this.url, `an answer larger than ${limit} bytes`));
        } else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', (e) => reject(unavailable(this.url, e.message)));
    });
  }
}

function parseJson<T>(body: Buffer, url: string): T {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw unavailable(url, 'an answer that is not JSON');
  }
}
