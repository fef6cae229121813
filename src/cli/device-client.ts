import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import {
  NodeSigner,
  TrustDatabase,
  decodeStream,
  encodeStream,
  signAssertion,
  type Assertion,
} from '../assertions/index.js';

const generate = promisify(generateKeyPair);

export class DeviceRegistrationError extends Error {
  constructor(
    message: string,
    /** `retry` for answers snapd retries (above 500, network); `fatal` for 4xx and bad answers. */
    readonly kind: 'retry' | 'fatal',
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RegisterOptions {
  /** The gadget's device-service.url, e.g. http://vault:8080/v1/ */
  readonly url: string;
  /** The gadget's device-service.headers, e.g. { 'api-key': … } */
  readonly headers?: Readonly<Record<string, string>>;
  readonly model: Assertion;
  /** registration.proposed-serial */
  readonly proposedSerial?: string;
  /** registration.body: hardware details */
  readonly body?: string;
  /** The device key; generated (RSA-4096, as snapd does) when absent. */
  readonly deviceKey?: KeyObject;
  /** The roots the device trusts, to verify the answer with. */
  readonly trusted: readonly Assertion[];
  /**
   * What the device has from its seed besides the roots: the model's own
   * chain (the brand account and the account-key that signed the model).
   * The answer carries the chain of the serial's key, which after a
   * rotation is not the model's.
   */
  readonly seed?: readonly Assertion[];
  /**
   * The gadget's prepare-serial-request hook: the body made from the
   * request-id (e.g. a JSON with request-id-signature, for hardware-identity
   * onboarding). Wins over `body`.
   */
  readonly prepareBody?: (requestId: string) => string | Promise<string>;
  /** Extra serial-request headers: on a remodel, original-brand-id, original-model and original-serial. */
  readonly requestHeaders?: Readonly<Record<string, string>>;
  /** What follows the model in the stream: on a remodel, the device's current serial. */
  readonly ancillary?: readonly Assertion[];
  /** Told of every answer to the serial POST: its status and how long it took. */
  readonly onAnswer?: (status: number, ms: number) => void;
  /** How many times to re-post after a 202 (snapd polls every 60 s). */
  readonly pollAttempts?: number;
  readonly pollDelayMs?: number;
  readonly fetch?: typeof fetch;
}

export interface Registration {
  readonly serial: Assertion;
  /** Everything the vault returned (serial first, then its chain). */
  readonly stream: Assertion[];
  readonly deviceKey: KeyObject;
  readonly requestId: string;
}

export const USER_AGENT = 'serial-vault-device/0.1 (like snapd)';

async function errorMessage(res: Response): Promise<string> {
  // snapd shows the message only when Content-Type is exactly application/json.
  if (res.headers.get('content-type') === 'application/json') {
    try {
      const body = (await res.json()) as { message?: string; error_list?: { message?: string }[] };
      return body.message ?? body.error_list?.[0]?.message ?? `status ${res.status}`;
    } catch {
      return `status ${res.status}`;
    }
  }
  return `status ${res.status}`;
}

/**
 * Registers a device the way snapd's devicestate does: request-id, then a
 * serial-request signed by the device key with the model appended, then the
 * checks snapd makes on the answer, plus verification against trusted roots.
 */
export async function registerDevice(options: RegisterOptions): Promise<Registration> {
  const http = options.fetch ?? fetch;
  const base = options.url.endsWith('/') ? options.url : `${options.url}/`;
  const model = options.model;
  if (!model.is('model')) throw new DeviceRegistrationError(`expected a model assertion, got ${model.type}`, 'fatal');
  const deviceKey = options.deviceKey ?? (await generate('rsa', { modulusLength: 4096 })).privateKey;
  const signer = new NodeSigner(deviceKey);
  const headers = { 'User-Agent': USER_AGENT, ...options.headers };

  const post = async (path: string, init: RequestInit): Promise<Response> => {
    try {
      return await http(`${base}${path}`, { method: 'POST', ...init, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new DeviceRegistrationError(`cannot reach ${base}${path}: ${(e as Error).message}`, 'retry');
    }
  };

  const idRes = await post('request-id', { headers });
  if (idRes.status !== 200) {
    throw new DeviceRegistrationError(`cannot get a request-id: ${await errorMessage(idRes)}`, idRes.status > 500 ? 'retry' : 'fatal', idRes.status);
  }
  const { 'request-id': requestId } = (await idRes.json()) as { 'request-id'?: string };
  if (typeof requestId !== 'string' || requestId === '') throw new DeviceRegistrationError('the vault answered without a request-id', 'fatal');

  const request = await signAssertion(
    {
      type: 'serial-request',
      'brand-id': model.view.brandId,
      model: model.view.model,
      'request-id': requestId,
      'device-key': signer.publicKey.encoded,
      ...(options.proposedSerial ? { serial: options.proposedSerial } : {}),
      ...options.requestHeaders,
    },
    options.prepareBody ? Buffer.from(await options.prepareBody(requestId)) : options.body ? Buffer.from(options.body) : undefined,
    signer,
    // snapd makes 4096-bit device keys; the vault takes what the device has.
    { minimumKeyBits: 1024 },
  );
  const body = encodeStream([request, model, ...(options.ancillary ?? [])]);
  const attempts = options.pollAttempts ?? 3;
  for (let attempt = 0; ; attempt++) {
    const started = performance.now();
    const res = await post('serial', {
      headers: { ...headers, 'Content-Type': 'application/x.ubuntu.assertion', 'Snap-Device-Capabilities': 'serial-stream' },
      body,
    });
    options.onAnswer?.(res.status, performance.now() - started);
    if (res.status === 202) {
      if (attempt + 1 >= attempts) throw new DeviceRegistrationError('the vault kept answering 202 (poll)', 'retry', 202);
      await new Promise((r) => setTimeout(r, options.pollDelayMs ?? 60_000));
      continue;
    }
    if (res.status !== 200 && res.status !== 201) {
      throw new DeviceRegistrationError(`cannot get a serial: ${await errorMessage(res)}`, res.status > 500 ? 'retry' : 'fatal', res.status);
    }
    let stream: Assertion[];
    try {
      stream = decodeStream(Buffer.from(await res.arrayBuffer()));
    } catch (e) {
      throw new DeviceRegistrationError(`the vault answered with something that is not an assertion stream: ${(e as Error).message}`, 'fatal');
    }
    const serials = stream.filter((a) => a.is('serial'));
    if (serials.length !== 1) throw new DeviceRegistrationError(`expected exactly one serial in the answer, got ${serials.length}`, 'fatal');
    const serial = serials[0] as Assertion;
    if (!serial.is('serial')) throw new DeviceRegistrationError('no serial', 'fatal');
    const v = serial.view;
    if (v.brandId !== model.view.brandId || v.model !== model.view.model) {
      throw new DeviceRegistrationError(`the serial is for ${v.brandId}/${v.model}, not ${model.view.brandId}/${model.view.model}`, 'fatal');
    }
    if (v.deviceKeyId !== signer.publicKey.id) throw new DeviceRegistrationError('the serial is for another device key', 'fatal');
    if (!model.view.serialAuthority.includes(serial.authorityId)) {
      throw new DeviceRegistrationError(`the serial is signed by "${serial.authorityId}", which the model does not allow`, 'fatal');
    }
    const trust = new TrustDatabase({ trusted: [...options.trusted] });
    for (const r of trust.addBatch([...(options.seed ?? []), model, ...stream])) {
      if (r.error) throw new DeviceRegistrationError(`the answer does not verify: ${r.assertion.ref}: ${r.error.message}`, 'fatal');
    }
    return { serial, stream, deviceKey, requestId };
  }
}
