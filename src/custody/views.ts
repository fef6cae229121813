import type { Ceremony, CeremonyOutcome } from './ceremony-store.js';
import { keyStateAt, type KeyState } from './key-state.js';
import type { SigningKeyRecord } from './signing-keys.js';

/** Keys and ceremonies as the admin API and the command line show them: plain JSON, the same on both sides. */

export interface KeyView {
  readonly label: string;
  readonly keyId: string;
  readonly purpose: string;
  readonly name: string;
  readonly state: KeyState;
  readonly since: string;
  readonly until: string | null;
  /** The label of the key that took over. */
  readonly replacedBy: string | null;
  /** In the canonical setup, while the key is pending: the account-key-request to submit. */
  readonly accountKeyRequest: string | null;
}

export interface CeremonyView extends Omit<Ceremony, 'brandId' | 'executedAt' | 'result'> {
  readonly brand: string;
  readonly executedAt: string | null;
  readonly result: unknown;
}

export interface OutcomeView {
  readonly outcome: 'executed' | 'proposed';
  readonly ceremony: CeremonyView | null;
  /** What the action did, assertions as their encoded text. */
  readonly result: unknown;
}

export function keyViews(keys: readonly SigningKeyRecord[], now: Date): KeyView[] {
  const labels = new Map(keys.map((k) => [k.id, k.label]));
  return keys.map((k) => ({
    label: k.label,
    keyId: k.keyId,
    purpose: k.purpose,
    name: k.name,
    state: keyStateAt(k, now),
    since: k.since,
    until: k.until ?? null,
    replacedBy: k.replacedBy !== undefined ? (labels.get(k.replacedBy) ?? null) : null,
    accountKeyRequest: k.accountKeyRequest ?? null,
  }));
}

/** A ceremony as shown, under `brand` (the account id its brand id stands for: every caller named it). */
export function ceremonyView(c: Ceremony, brand: string): CeremonyView {
  const { brandId: _id, executedAt, result, ...rest } = c;
  return { ...rest, brand, executedAt: executedAt ?? null, result: result ?? null };
}

export function outcomeView(o: CeremonyOutcome, brand: string): OutcomeView {
  return { outcome: o.outcome, ceremony: o.ceremony ? ceremonyView(o.ceremony, brand) : null, result: o.outcome === 'executed' ? asJson(o.result) : null };
}

/** An action's result as JSON: assertions as their encoded text. */
export function asJson(result: unknown): unknown {
  return JSON.parse(JSON.stringify(result ?? null, (_k, v: unknown) => (v && typeof v === 'object' && 'encode' in v && 'ref' in v ? (v as { encode(): Buffer }).encode().toString('utf8') : v))) as unknown;
}
