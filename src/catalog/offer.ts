import type { Store, StoreTree } from '../accounts/stores.js';
import type { Database } from '../db/database.js';
import { fallbackChain, type Channel } from './channels.js';
import { CurationRepository, type CurationRow } from './curation.js';
import { toRevision, toSnap, type RevisionRecord, type SnapRecord } from './snaps.js';

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
 * the revision a device gets, or nothing. Two indexed queries (three with
 * a pin) whatever the number of names, so a refresh of many snaps costs
 * about what one costs.
 */
const SNAP_COLUMNS = ['s.id as id', 's.snap_id', 's.name', 's.store_id', 's.type', 's.private', 's.publisher', 's.publisher_id', 's.collaborators', 's.created_at as snap_created_at'];
const REVISION_COLUMNS = ['revision', 'sha3_384', 'size', 'version', 'architectures', 'grade', 'confinement', 'base', 'epoch', 'provenance', 'snap_yaml', 'status', 'uploaded_by', 'upload_id', 'reviewed_by', 'review_reason', 'created_at', 'reviewed_at'].map((c) => `r.${c}`);

export async function offer(db: Database, tree: StoreTree, storeId: string, names: readonly string[], channel: Channel, architecture: string): Promise<Map<string, Offered>> {
  const chain = inheritChain(tree, storeId);
  const out = new Map<string, Offered>();
  if (chain.length === 0 || names.length === 0) return out;
  const ids = chain.map((s) => s.id);
  const channels = fallbackChain(channel);
  const arches = [architecture, 'all'];
  // Two queries whatever the number of names: the snaps with their candidate heads and revisions, then the stores' choices about them.
  const rows = (await db('snaps as s')
    .leftJoin('channel_heads as h', (j) => j.on('h.snap', 's.id').onIn('h.channel', channels).onIn('h.architecture', arches))
    .leftJoin('snap_revisions as r', (j) => j.on('r.snap', 'h.snap').andOn('r.revision', 'h.revision'))
    .whereIn('s.name', [...names])
    .select([...SNAP_COLUMNS, 'h.channel as head_channel', 'h.architecture as head_arch', ...REVISION_COLUMNS])) as Array<Record<string, unknown>>;
  const pks = [...new Set(rows.map((r) => Number(r['id'])))];
  const curation = new CurationRepository(db);
  const [choices, pins] = await Promise.all([curation.forSnaps(ids, pks), curation.pinsFor(ids, pks)]);
  const snaps = new Map<number, SnapRecord>();
  const heads = new Map<string, Record<string, unknown>>();
  for (const r of rows) {
    const pk = Number(r['id']);
    if (!snaps.has(pk)) snaps.set(pk, toSnap({ ...r, created_at: r['snap_created_at'] }));
    if (r['head_channel'] === null || r['head_channel'] === undefined) continue;
    const k = `${pk}\0${String(r['head_channel'])}`;
    if (r['head_arch'] === architecture || !heads.has(k)) heads.set(k, r);
  }
  const pinOf = new Map<string, number>();
  for (const id of [...ids].reverse()) for (const p of pins) if (p.storeId === id) pinOf.set(`${p.snapPk}\0${p.channel}`, p.revision);
  const pinned: Array<{ snap: SnapRecord; revision: number; channel: string }> = [];
  for (const snap of snaps.values()) {
    if (!isVisible(chain, snap, choices)) continue;
    for (const ch of channels) {
      const k = `${snap.pk}\0${ch}`;
      const pin = pinOf.get(k);
      if (pin !== undefined) {
        pinned.push({ snap, revision: pin, channel: ch });
        break;
      }
      const head = heads.get(k);
      if (head) {
        out.set(snap.name, { snap, revision: toRevision({ ...head, snap: snap.pk }), channel: ch });
        break;
      }
    }
  }
  if (pinned.length === 0) return out;
  const revisions = (await db('snap_revisions').whereIn('snap', pinned.map((p) => p.snap.pk)).whereIn('revision', [...new Set(pinned.map((p) => p.revision))])).map(toRevision);
  for (const p of pinned) {
    const revision = revisions.find((r) => r.snapPk === p.snap.pk && r.revision === p.revision);
    // A pinned revision not built for this architecture offers nothing here.
    if (revision && (revision.architectures.includes(architecture) || revision.architectures.includes('all'))) out.set(p.snap.name, { snap: p.snap, revision, channel: p.channel });
  }
  return out;
}
