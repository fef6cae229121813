import type { Store, StoreTree } from '../accounts/stores.js';
import type { Database } from '../db/database.js';
import { fallbackChain, type Channel } from './channels.js';
import { ChannelMap } from './channel-map.js';
import { CurationRepository, type CurationRow } from './curation.js';
import { SnapRepository, toRevision, type RevisionRecord, type SnapRecord } from './snaps.js';

/**
 * The stores whose offer `store` inherits, nearest first: itself, then, for
 * a product store, its parent's chain. Ecosystem and brand stores inherit
 * nothing: an ecosystem store sees only its own snaps and what it includes.
 */
export function inheritChain(tree: StoreTree, storeId: string): Store[] {
  // The same walk as grants take: what reaches a product store from above, its offer inherits.
  return tree.grantChain(storeId);
}

/**
 * Whether `snap` is in the offer of the first store of `chain`: the nearest
 * store that decides wins. A store decides by owning the snap, including it
 * or excluding it.
 */
export function isVisible(chain: readonly Store[], snap: SnapRecord, curation: readonly CurationRow[]): boolean {
  for (const store of chain) {
    const row = curation.find((c) => c.storeId === store.id && c.snapPk === snap.pk);
    if (row?.mode === 'exclude') return false;
    if (row?.mode === 'include' || snap.storeId === store.id) return true;
  }
  return false;
}

export interface Offered {
  readonly snap: SnapRecord;
  readonly revision: RevisionRecord;
  /** The channel the revision was found in (after risk fallback). */
  readonly channel: string;
}

/**
 * "What does store S offer on channel C for architecture A": for each name,
 * the revision a device gets, or nothing. A fixed handful of indexed
 * queries whatever the number of names, so a refresh of many snaps costs
 * about what one costs.
 */
export async function offer(db: Database, tree: StoreTree, storeId: string, names: readonly string[], channel: Channel, architecture: string): Promise<Map<string, Offered>> {
  const chain = inheritChain(tree, storeId);
  const out = new Map<string, Offered>();
  if (chain.length === 0 || names.length === 0) return out;
  const ids = chain.map((s) => s.id);
  const curation = new CurationRepository(db);
  const snaps = await new SnapRepository(db).byNames(names);
  const pks = snaps.map((s) => s.pk);
  const [rows, pins, heads] = await Promise.all([curation.forSnaps(ids, pks), curation.pinsFor(ids, pks), new ChannelMap(db).heads(pks)]);
  const channels = fallbackChain(channel);
  const picked: Array<{ snap: SnapRecord; revision: number; channel: string }> = [];
  for (const snap of snaps) {
    if (!isVisible(chain, snap, rows)) continue;
    for (const ch of channels) {
      const pin = ids.map((id) => pins.find((p) => p.storeId === id && p.snapPk === snap.pk && p.channel === ch)).find((p) => p !== undefined);
      const head = heads.find((h) => h.snapPk === snap.pk && h.channel === ch && h.architecture === architecture) ?? heads.find((h) => h.snapPk === snap.pk && h.channel === ch && h.architecture === 'all');
      const revision = pin?.revision ?? head?.revision;
      if (revision !== undefined) {
        picked.push({ snap, revision, channel: ch });
        break;
      }
    }
  }
  if (picked.length === 0) return out;
  const revisions = (await db('snap_revisions').whereIn('snap', picked.map((p) => p.snap.pk)).whereIn('revision', [...new Set(picked.map((p) => p.revision))])).map(toRevision);
  for (const p of picked) {
    const revision = revisions.find((r) => r.snapPk === p.snap.pk && r.revision === p.revision);
    // A pinned revision not built for this architecture offers nothing here.
    if (revision && (revision.architectures.includes(architecture) || revision.architectures.includes('all'))) out.set(p.snap.name, { snap: p.snap, revision, channel: p.channel });
  }
  return out;
}
