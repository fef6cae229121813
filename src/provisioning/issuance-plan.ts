import type { Custody } from '../custody/custody.js';
import { CustodyError } from '../custody/errors.js';
import { signingKeyAt, usableAt } from '../custody/key-state.js';
import type { SigningKeyRecord } from '../custody/signing-keys.js';
import type { ShortCache } from '../db/short-cache.js';
import type { KeyStore } from '../keystore/keystore.js';
import type { Registration } from './admission.js';
import type { Issuance, Nonce } from './issuer.js';
import { transient } from './transient.js';

export interface PlanParts {
  readonly custody: Custody;
  readonly keystore: KeyStore;
  readonly cache: ShortCache;
  /** The model's extra serial keys (row ids), beside its own. */
  readonly serialKeyIds: (modelId: number) => Promise<number[]>;
  readonly clock: () => Date;
  readonly origin: string;
  /** A number that moves on with every registration: which of several keys goes first. */
  readonly turn: number;
  /** Whose HSM this instance signs with: undefined on central or standalone, the appliance's name on an appliance. */
  readonly holder?: string | undefined;
}

/**
 * The keys that may sign a model's serials at `at`: its own key and each
 * extra serial key, each followed through its rotations, and only those
 * whose private half this instance's HSM holds (`holder`: undefined on
 * central or standalone, the appliance's name on an appliance). An
 * appliance whose model names none of its keys signs with the brand's
 * serials keys it holds. Keys whose token is known to be down go last;
 * among the rest each registration starts at the next one, so signing
 * spreads over the tokens.
 */
export function candidateKeys(starts: readonly number[], keys: readonly SigningKeyRecord[], at: Date, available: (label: string) => boolean, turn: number, holder?: string): SigningKeyRecord[] {
  const heldHere = (k: SigningKeyRecord) => k.heldBy === holder;
  const chosen = new Map<number, SigningKeyRecord>();
  let refusal: unknown;
  const consider = (start: SigningKeyRecord) => {
    try {
      const key = signingKeyAt(start, keys, at);
      if (heldHere(key)) chosen.set(key.id, key);
    } catch (e) {
      if (!(e instanceof CustodyError)) throw e;
      refusal ??= e;
    }
  };
  for (const id of starts) {
    const start = keys.find((k) => k.id === id);
    if (start) consider(start);
  }
  if (chosen.size === 0 && holder !== undefined) {
    for (const k of keys) if (k.purpose === 'serials' && heldHere(k) && usableAt(k, at)) consider(k);
  }
  if (chosen.size === 0) throw refusal ?? new CustodyError('ERR_SIGNING_KEY_UNUSABLE', 'no key may sign serials for this model now; the brand has been told (serial-vault key health)');
  const all = [...chosen.values()];
  const up = all.filter((k) => available(k.label));
  const down = all.filter((k) => !available(k.label));
  const first = up.length > 0 ? turn % up.length : 0;
  return [...up.slice(first), ...up.slice(0, first), ...down];
}

/** The keys that sign this registration's serial at this second (its timestamp), and the log row every answer writes. */
export async function prepareIssuance(r: Registration, nonce: Nonce, identity: Issuance['identity'], parts: PlanParts): Promise<Issuance> {
  const { model, request } = r;
  const at = parts.clock();
  const cacheKey = `brand-keys\0${model.brandAccountId}`;
  const fromCache = parts.cache.has(cacheKey);
  // The brand's keys are read at most every few seconds (at once after a change here); the choice is made per request.
  const keys = await parts.cache.get(cacheKey, () => parts.custody.keys.ofModelBrand(model.signingKeyId)).catch(transient);
  const extra = await parts.cache.get(`serial-keys\0${model.id}`, () => parts.serialKeyIds(model.id)).catch(transient);
  const available = (label: string) => parts.keystore.isAvailable?.(label) ?? true;
  const signingKeys = candidateKeys([model.signingKeyId, ...extra], keys, at, available, parts.turn, parts.holder);
  const deviceKeyId = request.view.deviceKey.id;
  const original = r.remodel ? `${r.remodel.oldSerial.view.brandId}/${r.remodel.oldSerial.view.model}/${r.remodel.oldSerial.view.serial}` : undefined;
  const log = {
    brandId: model.brandAccountId,
    model: model.name,
    deviceKeyId,
    requestId: request.view.requestId,
    origin: parts.origin,
    ...(r.clientAddress ? { clientAddress: r.clientAddress } : {}),
    ...(r.station ? { station: r.station.name } : {}),
    ...(original ? { original } : {}),
    ...(identity ? { hardwareIdKey: identity.keyDigest } : {}),
  };
  // The model may name a key newer than the cached brand keys (another process made it a moment ago): read that one.
  const modelKeyId = (keys.find((k) => k.id === model.signingKeyId) ?? (await parts.custody.keys.byId(model.signingKeyId).catch(transient)))?.keyId;
  return { ...r, nonce, signingKeys, signingKeyFromCache: fromCache, at, deviceKeyId, modelKeyId, identity, log };
}
