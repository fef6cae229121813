import { createHash, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, truncate } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NodeSigner, decodeAssertion, formatRfc3339, signAssertion, type Assertion } from '../assertions/index.js';
import { USER_AGENT } from './device-client.js';

export class StoreClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** One HTTP exchange, as a test or `--verbose` sees it. */
export interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

export interface StoreClientOptions {
  /** The store's base URL, as SNAPPY_FORCE_API_URL would be. */
  readonly storeUrl: string;
  readonly model: Assertion;
  readonly serial: Assertion;
  readonly deviceKey: KeyObject;
  /** A session made earlier (snapd keeps it in its state). */
  readonly session?: string;
  readonly fetch?: typeof fetch;
  readonly onExchange?: (e: Exchange) => void;
  /** Called when a new session is made, to keep it. */
  readonly onSession?: (token: string) => void;
}

/** snapd's fields for snap actions (every storeSnap JSON tag but resources). */
const FIELDS = ['architectures', 'base', 'confinement', 'links', 'contact', 'created-at', 'description', 'download', 'epoch', 'license', 'name', 'prices', 'private', 'publisher', 'revision', 'snap-id', 'snap-yaml', 'summary', 'title', 'type', 'version', 'website', 'store-url', 'media', 'common-ids', 'categories'];
const MAX_FORMATS = { 'snap-declaration': 6, 'account-key': 1, 'system-user': 2, account: 0, 'snap-revision': 0, store: 0 };

async function message(res: Response): Promise<string> {
  const type = res.headers.get('content-type');
  if (type === 'application/json' || type === 'application/problem+json') {
    const body = (await res.json().catch(() => ({}))) as { 'error-list'?: Array<{ message?: string }> };
    if (body['error-list']?.[0]?.message) return body['error-list'][0].message;
  }
  return `status ${res.status}`;
}

/**
 * A device's store client, doing what snapd's does (STORE.md §2–4): nonce
 * and session, snap actions with the v2 headers, downloads and assertion
 * fetches with the v1 ones, a session made again when the store answers
 * 401 with `refresh_device_session=1`.
 */
export class StoreClient {
  private session: string | undefined;
  private readonly base: string;
  private readonly http: typeof fetch;

  constructor(private readonly options: StoreClientOptions) {
    this.base = options.storeUrl.endsWith('/') ? options.storeUrl : `${options.storeUrl}/`;
    this.http = options.fetch ?? fetch;
    this.session = options.session;
    if (!options.model.is('model') || !options.serial.is('serial')) throw new StoreClientError('a model and a serial assertion are needed');
  }

  private get model() {
    return this.options.model as Assertion & { view: { architecture: string; store: string; brandId: string; model: string } };
  }

  private async send(method: string, url: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    let res: Response;
    try {
      res = await this.http(url, { method, headers: { 'User-Agent': USER_AGENT, ...init.headers }, ...(init.body !== undefined ? { body: init.body } : {}), signal: AbortSignal.timeout(120_000) });
    } catch (e) {
      throw new StoreClientError(`cannot reach ${url}: ${(e as Error).message}`);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    this.options.onExchange?.({ method, url, status: res.status, headers });
    return res;
  }

  /** Nonce, then a device-session-request signed with the device key; replaces the session held. */
  async newSession(): Promise<string> {
    const nonceRes = await this.send('POST', `${this.base}api/v1/snaps/auth/nonces`, { headers: { Accept: 'application/json' } });
    if (nonceRes.status !== 200) throw new StoreClientError(`cannot get nonce from store: ${await message(nonceRes)}`, nonceRes.status);
    const { nonce } = (await nonceRes.json()) as { nonce?: string };
    if (!nonce) throw new StoreClientError('cannot get nonce from store: empty nonce returned');
    const serial = this.options.serial as Assertion & { view: { brandId: string; model: string; serial: string } };
    const request = await signAssertion(
      { type: 'device-session-request', 'brand-id': serial.view.brandId, model: serial.view.model, serial: serial.view.serial, nonce, timestamp: formatRfc3339(new Date()) },
      undefined,
      new NodeSigner(this.options.deviceKey),
      { minimumKeyBits: 1024 },
    );
    const body = JSON.stringify({ 'device-session-request': request.encode().toString('utf8'), 'serial-assertion': this.options.serial.encode().toString('utf8'), 'model-assertion': this.options.model.encode().toString('utf8') });
    const previous: Record<string, string> = this.session ? { 'X-Device-Authorization': `Macaroon root="${this.session}"` } : {};
    const res = await this.send('POST', `${this.base}api/v1/snaps/auth/sessions`, { headers: { Accept: 'application/json', 'Content-Type': 'application/json', ...previous }, body });
    if (res.status !== 200 && res.status !== 202) throw new StoreClientError(`cannot get device session from store: ${await message(res)}`, res.status);
    const { macaroon } = (await res.json()) as { macaroon?: string };
    if (!macaroon) throw new StoreClientError('cannot get device session from store: empty session returned');
    this.session = macaroon;
    this.options.onSession?.(macaroon);
    return macaroon;
  }

  /** A request with device auth; a 401 asking for a new session gets one and the request again (snapd does so up to 4 times). */
  private async authed(method: string, url: string, level: 'v1' | 'v2', init: { headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      if (!this.session) await this.newSession();
      const v = this.model.view;
      const device =
        level === 'v2'
          ? { 'Snap-Device-Authorization': `Macaroon root="${this.session}"`, 'Snap-Device-Series': '16', 'Snap-Device-Architecture': v.architecture, 'Snap-Classic': 'false', 'Snap-Device-Capabilities': 'default-tracks', ...(v.store ? { 'Snap-Device-Store': v.store } : {}) }
          : { 'X-Device-Authorization': `Macaroon root="${this.session}"`, 'X-Ubuntu-Series': '16', 'X-Ubuntu-Architecture': v.architecture, 'X-Ubuntu-Classic': 'false', 'X-Ubuntu-Wire-Protocol': '1', ...(v.store ? { 'X-Ubuntu-Store': v.store } : {}) };
      const res = await this.send(method, url, { ...init, headers: { ...device, ...init.headers } });
      if (res.status === 401 && (res.headers.get('www-authenticate') ?? '').includes('refresh_device_session=1') && attempt < 4) {
        await res.body?.cancel();
        await this.newSession();
        continue;
      }
      return res;
    }
  }

  /** `POST v2/snaps/refresh` with the given context and actions. */
  async snapAction(context: unknown[], actions: unknown[]): Promise<Array<Record<string, unknown>>> {
    const body = JSON.stringify({ context, actions, fields: FIELDS, 'assertion-max-formats': MAX_FORMATS });
    const res = await this.authed('POST', `${this.base}v2/snaps/refresh`, 'v2', { headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, body });
    if (res.status !== 200) throw new StoreClientError(`cannot query the store for updates: ${await message(res)}`, res.status);
    if (res.headers.get('content-type') !== 'application/json') throw new StoreClientError(`the store answered ${res.headers.get('content-type')}, not application/json`);
    const answer = (await res.json()) as { results?: Array<Record<string, unknown>> };
    return answer.results ?? [];
  }

  /**
   * Downloads to `target`, resuming a `<target>.partial` with `Range` as
   * snapd does, and checks the SHA3-384 (hex) the action gave.
   */
  async download(url: string, sha3_384Hex: string, target: string): Promise<void> {
    const partial = `${target}.partial`;
    const have = await stat(partial).then((s) => s.size, () => 0);
    const res = await this.authed('GET', url, 'v1', { headers: { Accept: '', 'Snap-CDN': 'none', ...(have > 0 ? { Range: `bytes=${have}-` } : {}) } });
    if (res.status !== 200 && res.status !== 206) throw new StoreClientError(`cannot download ${url}: ${await message(res)}`, res.status);
    // A resume answered with anything but 206 starts again from the first byte.
    const resumed = have > 0 && res.status === 206;
    if (!resumed && have > 0) await truncate(partial, 0);
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(partial, { flags: resumed ? 'a' : 'w' }));
    const hash = createHash('sha3-384');
    await pipeline(createReadStream(partial), hash);
    const got = hash.digest('hex');
    if (got !== sha3_384Hex) {
      await truncate(partial, 0);
      throw new StoreClientError(`the downloaded file's SHA3-384 is ${got}, the store said ${sha3_384Hex}: the file was changed on the way or in the store`);
    }
    await rename(partial, target);
  }

  /** `GET v2/assertions/TYPE/KEY…`: the assertion, or undefined when the store says not-found (problem+json, not-found). */
  async assertion(type: string, primaryKey: readonly string[]): Promise<Assertion | undefined> {
    const max = (MAX_FORMATS as Record<string, number>)[type] ?? 0;
    const res = await this.authed('GET', `${this.base}v2/assertions/${type}/${primaryKey.map(encodeURIComponent).join('/')}?max-format=${max}`, 'v1', { headers: { Accept: 'application/x.ubuntu.assertion' } });
    if (res.status === 200) return decodeAssertion(Buffer.from(await res.arrayBuffer()));
    const ctype = res.headers.get('content-type');
    if (res.status === 404 && (ctype === 'application/json' || ctype === 'application/problem+json')) {
      const body = (await res.json()) as { 'error-list'?: Array<{ code?: string }> };
      if (body['error-list']?.[0]?.code === 'not-found') return undefined;
    }
    throw new StoreClientError(`cannot fetch ${type} ${primaryKey.join('/')}: ${await message(res)}`, res.status);
  }
}
