import { randomBytes } from 'node:crypto';
import type { Assertion } from '../assertions/index.js';
import type { AssertionStore } from '../db/assertion-store.js';
import type { RevisionRecord, SnapRecord } from './snaps.js';

const SNAP_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 32 letters and digits, as the snap store's ids (rejection sampling keeps them uniform). */
export function newSnapId(): string {
  let id = '';
  while (id.length < 32) for (const b of randomBytes(48)) if (b < 248 && id.length < 32) id += SNAP_ID_ALPHABET[b % 62];
  return id;
}

/**
 * What a device or `snap download` needs to accept a revision: the
 * account-keys that signed the declaration and the revision, the
 * publisher's account, the declaration and the revision, prerequisites first.
 */
export async function revisionAssertions(store: AssertionStore, snap: SnapRecord, revision: RevisionRecord): Promise<Assertion[]> {
  const rev = await store.get('snap-revision', [revision.sha3_384, revision.provenance]);
  const decl = await store.get('snap-declaration', ['16', snap.snapId]);
  const out: Assertion[] = [];
  for (const a of [decl, rev]) {
    if (!a) continue;
    const key = await store.get('account-key', [a.signKeyId]);
    if (key && !out.some((o) => o.ref === key.ref)) out.push(key);
  }
  const account = await store.get('account', [snap.publisherId]);
  if (account) out.push(account);
  for (const a of [decl, rev]) if (a) out.push(a);
  return out;
}
