import type { SigningKeyRecord } from './signing-keys.js';

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

/** One line that says where a key stands, for reports. */
export function describeKey(k: SigningKeyRecord, now: Date): string {
  const state = keyStateAt(k, now);
  const window = k.until ? `${k.since} – ${k.until}` : `from ${k.since}`;
  const why = k.state === 'pending' ? ' (awaiting its account-key)' : state === 'pending' ? ' (scheduled)' : '';
  return `${k.label.padEnd(32)} ${k.purpose.padEnd(9)} ${state}${why}  ${window}  ${k.keyId}`;
}
