import { CustodyError } from './errors.js';
import type { KeyPurpose, SigningKeyRecord } from './signing-keys.js';

/** The lifecycle as people see it: awaiting its account-key or its start, in use, rotated out, revoked. */
export type KeyState = 'pending' | 'active' | 'retired' | 'revoked';

const at = (iso: string) => Date.parse(iso);

/** A key's state at `now`, from what is stored and its window. */
export function keyStateAt(k: SigningKeyRecord, now: Date): KeyState {
  if (k.state === 'revoked') return 'revoked';
  if (k.state === 'pending' || at(k.since) > now.getTime()) return 'pending';
  if (k.until !== undefined && at(k.until) <= now.getTime()) return 'retired';
  return 'active';
}

/** Whether the vault may sign with `k` at `now`. */
export const usableAt = (k: SigningKeyRecord, now: Date): boolean => keyStateAt(k, now) === 'active';

/**
 * The key that signs for a model at `now`: the model's key, or the key that
 * replaced it (and so on) once the replacement's window has begun. A
 * rotation scheduled for later leaves the old key in use until then.
 */
export function successorAt(start: SigningKeyRecord, keys: ReadonlyMap<number, SigningKeyRecord>, now: Date): SigningKeyRecord {
  let current = start;
  for (let hops = 0; current.replacedBy !== undefined && hops < keys.size; hops++) {
    const next = keys.get(current.replacedBy);
    if (!next || next.state === 'revoked' || keyStateAt(next, now) === 'pending') break;
    current = next;
  }
  return current;
}

/**
 * The one answer to "which key signs now": the model's key followed through
 * its rotations, refused unless it may sign at `now`. The refusal says no
 * more than a device may read; key health tells the brand the rest.
 */
export function signingKeyAt(start: SigningKeyRecord, keys: readonly SigningKeyRecord[], now: Date): SigningKeyRecord {
  const key = successorAt(start, new Map(keys.map((k) => [k.id, k])), now);
  if (!usableAt(key, now)) throw new CustodyError('ERR_SIGNING_KEY_UNUSABLE', 'no key may sign serials for this model now; the brand has been told (serial-vault key health)');
  return key;
}

/**
 * A brand's newest key of `purpose` in use now; for models, its serials key
 * when it has no models key in use. A brand that rotated has one in use per
 * purpose; a pending or revoked key is never chosen.
 */
export function keyInUse(keys: readonly SigningKeyRecord[], purpose: Extract<KeyPurpose, 'serials' | 'models'>, now: Date): SigningKeyRecord | undefined {
  const newest = (p: KeyPurpose) => keys.filter((k) => k.purpose === p && usableAt(k, now)).at(-1);
  return newest(purpose) ?? (purpose === 'models' ? newest('serials') : undefined);
}

/** One line that says where a key stands, for reports. */
export function describeKey(k: SigningKeyRecord, now: Date): string {
  const state = keyStateAt(k, now);
  const window = k.until ? `${k.since} – ${k.until}` : `from ${k.since}`;
  const why = k.state === 'pending' ? ' (awaiting its account-key)' : state === 'pending' ? ' (scheduled)' : '';
  return `${k.label.padEnd(32)} ${k.purpose.padEnd(9)} ${state}${why}  ${window}  ${k.keyId}`;
}
