import { decodeAssertion, type Assertion, type DeviceSessionRequestView, type ModelView, type SerialView, type TrustDatabase } from '../assertions/index.js';
import type { StoreTree } from '../accounts/stores.js';
import type { Brand } from '../accounts/brands.js';
import type { ModelRecord } from '../catalog/models.js';
import type { IssuedSerial } from '../provisioning/serials.js';
import { StoreError } from './errors.js';

/** The three assertions snapd posts to `api/v1/snaps/auth/sessions`, decoded. */
export interface SessionRequest {
  readonly request: Assertion<DeviceSessionRequestView>;
  readonly serial: Assertion<SerialView>;
  readonly model: Assertion<ModelView>;
}

const FIELDS = { 'device-session-request': 'device-session-request', 'serial-assertion': 'serial', 'model-assertion': 'model' } as const;

/** Step 1: the body is JSON with the three assertions snapd sends, each of its type. */
export function readSessionRequest(body: unknown): SessionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new StoreError('ERR_SESSION_REQUEST_INVALID', 'the session request must be a JSON object with device-session-request, serial-assertion and model-assertion');
  }
  const parts: Partial<Record<string, Assertion>> = {};
  for (const [field, type] of Object.entries(FIELDS)) {
    const text = (body as Record<string, unknown>)[field];
    if (typeof text !== 'string' || text === '') throw new StoreError('ERR_SESSION_REQUEST_INVALID', `the session request has no "${field}"`);
    let a: Assertion;
    try {
      a = decodeAssertion(Buffer.from(text, 'utf8'));
    } catch (e) {
      throw new StoreError('ERR_SESSION_REQUEST_INVALID', `"${field}" is not a valid assertion: ${(e as Error).message}`);
    }
    if (a.type !== type) throw new StoreError('ERR_SESSION_REQUEST_INVALID', `"${field}" must be a ${type} assertion, not ${a.type}`);
    parts[field] = a;
  }
  return {
    request: parts['device-session-request'] as Assertion<DeviceSessionRequestView>,
    serial: parts['serial-assertion'] as Assertion<SerialView>,
    model: parts['model-assertion'] as Assertion<ModelView>,
  };
}

/** Step 2: the request names the serial's device, and the serial the model's brand and name. */
export function checkSameDevice({ request, serial, model }: SessionRequest): void {
  const r = request.view;
  const s = serial.view;
  if (r.brandId !== s.brandId || r.model !== s.model || r.serial !== s.serial) {
    throw new StoreError('ERR_DEVICE_UNTRUSTED', `the device-session-request is for ${r.brandId}/${r.model}/${r.serial}, the serial for ${s.brandId}/${s.model}/${s.serial}`);
  }
  if (s.brandId !== model.view.brandId || s.model !== model.view.model) {
    throw new StoreError('ERR_DEVICE_UNTRUSTED', `the serial is for ${s.brandId}/${s.model}, the model is ${model.view.brandId}/${model.view.model}`);
  }
}

/** Step 3: the brand is served here and the model is one of its registered, enabled models. */
export function checkServed(req: SessionRequest, brand: Brand | undefined, model: ModelRecord | undefined): void {
  const { brandId, model: name } = req.model.view;
  if (!brand) throw new StoreError('ERR_DEVICE_UNTRUSTED', `brand "${brandId}" is not served by this store`);
  if (!model) throw new StoreError('ERR_DEVICE_UNTRUSTED', `model ${brandId}/${name} is not registered in this store`);
  if (!model.enabled) throw new StoreError('ERR_DEVICE_UNTRUSTED', `model ${brandId}/${name} is disabled`);
}

/**
 * Step 4: through the trust chain, the model verifies against the brand's
 * keys, the serial against the brand's or a serial-authority's keys (the
 * codec checks the model allows that authority), and the request against
 * the serial's device key.
 */
export function checkSignatures(req: SessionRequest, trust: TrustDatabase): void {
  const results = trust.addBatch([req.model, req.serial, req.request]);
  const names = ['model', 'serial', 'device-session-request'];
  results.forEach((r, i) => {
    if (r.error) throw new StoreError('ERR_DEVICE_UNTRUSTED', `the ${names[i]} does not verify: ${r.error.message}`);
  });
}

/** Step 5: a serial this vault issued must still be the one for this device key (a reprovisioned device's old serial is revoked). */
export function checkNotSuperseded(req: SessionRequest, issued: IssuedSerial | undefined): void {
  if (issued && issued.deviceKeyId !== req.serial.view.deviceKeyId) {
    throw new StoreError('ERR_DEVICE_UNTRUSTED', `serial ${req.serial.view.serial} now belongs to another device key: this one was replaced`);
  }
}

/** Step 6: the request was signed recently, by the vault's clock give or take `skewMs`. */
export function checkRecent(req: SessionRequest, now: Date, skewMs: number): void {
  const at = req.request.view.timestamp.getTime();
  if (Math.abs(now.getTime() - at) > skewMs) {
    throw new StoreError('ERR_DEVICE_UNTRUSTED', `the device-session-request is timestamped ${req.request.view.timestamp.toISOString()}, more than ${Math.round(skewMs / 1000)} s from the store's clock: check the device's time`);
  }
}

/**
 * The store the device sees: the one its model names, if this vault serves
 * it for the model's brand. A model naming no store, or another brand's,
 * gets the anonymous view (what the store shows devices without a session).
 */
export function storeOf(req: SessionRequest, tree: StoreTree, brand: Brand): string | null {
  const id = req.model.view.store;
  if (!id) return null;
  const store = tree.get(id);
  return store && store.brandId === brand.id ? store.id : null;
}
