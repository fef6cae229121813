import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Assertion } from '../assertions/index.js';
import { AssertionStore } from '../db/assertion-store.js';
import type { Database } from '../db/database.js';
import type { BlobStore } from './blobs.js';
import { CatalogError } from './errors.js';
import type { OfferReads } from './offer-reads.js';
import { SnapRepository, type RevisionRecord, type SnapRecord } from './snaps.js';

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

/** Which revision `snap download` wants: a channel's (default latest/stable) or a number, for an architecture. */
export interface DownloadPick {
  readonly channel?: string;
  readonly revision?: number;
  readonly architecture: string;
}

export interface Download {
  readonly snap: SnapRecord;
  readonly revision: RevisionRecord;
  readonly file: () => Readable;
  readonly assertions: Assertion[];
}

/** The file and assertions of what a store offers, for `snap download` (a Viewer building an image). */
export async function pickDownload(deps: { db: Database; reads: OfferReads; blobs: BlobStore }, storeId: string, name: string, pick: DownloadPick): Promise<Download> {
  const snap = (await deps.reads.inStore(storeId)).find((s) => s.name === name);
  if (!snap) throw new CatalogError('ERR_SNAP_UNKNOWN', `store "${storeId}" does not offer "${name}"`);
  let revision: RevisionRecord;
  if (pick.revision !== undefined) {
    revision = await new SnapRepository(deps.db).requireRevision(snap, pick.revision);
    if (revision.status !== 'approved') throw new CatalogError('ERR_REVISION_NOT_APPROVED', `revision ${pick.revision} of "${name}" is ${revision.status}`);
  } else {
    const channel = pick.channel ?? 'latest/stable';
    const found = (await deps.reads.offer({ storeId, publicOnly: false }, [name], channel, pick.architecture)).get(name);
    if (!found) throw new CatalogError('ERR_REVISION_UNKNOWN', `"${name}" has nothing released on ${channel} for ${pick.architecture} in store "${storeId}"`);
    revision = found.revision;
  }
  const chosen = revision;
  return { snap, revision, file: () => createReadStream(deps.blobs.pathOf(chosen.sha3_384)), assertions: await revisionAssertions(new AssertionStore(deps.db), snap, revision) };
}
