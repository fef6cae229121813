import type { Store, StoreTree } from '../accounts/stores.js';
import type { Database } from '../db/database.js';
import { fallbackChain, type Channel } from './channels.js';
import { CurationRepository, type CurationRow, type PinRow } from './curation.js';
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

const SNAP_COLUMNS = ['s.id as id', 's.snap_id', 's.name', 's.store_id', 's.type', 's.private', 's.publisher', 's.publisher_id', 's.collaborators', 's.created_at as snap_created_at'];
const REVISION_COLUMNS = ['revision', 'sha3_384', 'size', 'version', 'architectures', 'grade', 'confinement', 'base', 'epoch', 'provenance', 'snap_yaml', 'status', 'uploaded_by', 'upload_id', 'reviewed_by', 'review_reason', 'created_at', 'reviewed_at'].map((c) => `r.${c}`);

/** Which snaps are asked for: by name, by snap-id, or both. */
export interface SnapSelection {
  readonly names?: readonly string[];
  readonly snapIds?: readonly string[];
}

/** A store chain's includes, excludes and pins, when the caller holds them already (a short-lived cache). */
export interface ChainChoices {
  readonly curation: readonly CurationRow[];
  readonly pins: readonly PinRow[];
}

/** A snap with one of its candidate heads for the channels and architectures asked (or none), decoded once. */
export interface OfferRow {
  readonly snap: SnapRecord;
  readonly head: { readonly channel: string; readonly architecture: string; readonly revision: RevisionRecord } | null;
}

/** Which snaps' rows to read: by name and snap-id, or every snap (to fill an index). */
export type RowSelection = { readonly names: readonly string[]; readonly snapIds: readonly string[] } | 'all';

/** The snaps with their candidate heads (for these channels and architectures) and those heads' revisions: one query. */
export async function queryOfferRows(db: Database, select: RowSelection, channels: readonly string[], arches: readonly string[]): Promise<OfferRow[]> {
  const raw = (await db('snaps as s')
    .leftJoin('channel_heads as h', (j) => j.on('h.snap', 's.id').onIn('h.channel', [...channels]).onIn('h.architecture', [...arches]))
    .leftJoin('snap_revisions as r', (j) => j.on('r.snap', 'h.snap').andOn('r.revision', 'h.revision'))
    .where((q) => {
      if (select === 'all') return;
      if (select.names.length > 0) q.whereIn('s.name', [...select.names]);
      if (select.snapIds.length > 0) q.orWhereIn('s.snap_id', [...select.snapIds]);
    })
    .select([...SNAP_COLUMNS, 'h.channel as head_channel', 'h.architecture as head_arch', ...REVISION_COLUMNS])) as Array<Record<string, unknown>>;
  const snaps = new Map<number, SnapRecord>();
  return raw.map((r) => {
    const pk = Number(r['id']);
    const snap = snaps.get(pk) ?? toSnap({ ...r, created_at: r['snap_created_at'] });
    snaps.set(pk, snap);
    const channel = r['head_channel'];
    return { snap, head: channel === null || channel === undefined ? null : { channel: String(channel), architecture: String(r['head_arch']), revision: toRevision({ ...r, snap: pk }) } };
  });
}

/**
 * Offer rows held in memory (the offer index): for a set of channels and
 * architectures, the rows of the snaps asked for, read from the database
 * only for those it does not hold.
 */
export interface OfferRowCache {
  /** The revisions pins name, held like the rows. */
  pinnedRevisions(wanted: ReadonlyArray<{ snapPk: number; revision: number }>): Promise<RevisionRecord[]>;
  rows(select: { readonly names: readonly string[]; readonly snapIds: readonly string[] }, channels: readonly string[], arches: readonly string[]): Promise<OfferRow[]>;
}

/** Revisions by snap and number (the ones pins name): one query. */
export async function queryRevisions(db: Database, wanted: ReadonlyArray<{ snapPk: number; revision: number }>): Promise<RevisionRecord[]> {
  if (wanted.length === 0) return [];
  const rows = await db('snap_revisions').whereIn('snap', [...new Set(wanted.map((w) => w.snapPk))]).whereIn('revision', [...new Set(wanted.map((w) => w.revision))]);
  return rows.map(toRevision).filter((r) => wanted.some((w) => w.snapPk === r.snapPk && w.revision === r.revision));
}

/** The rows for the snaps asked for: from the cache when there is one, else one query. */
function offerRows(db: Database, names: readonly string[], snapIds: readonly string[], channels: readonly string[], arches: readonly string[], cache: OfferRowCache | undefined): Promise<OfferRow[]> {
  return cache ? cache.rows({ names, snapIds }, channels, arches) : queryOfferRows(db, { names, snapIds }, channels, arches);
}

/** A snap's head on a channel: the one built for the architecture, else one for "all". */
function headOn(heads: ReadonlyArray<NonNullable<OfferRow['head']>>, channel: string, architecture: string): NonNullable<OfferRow['head']> | undefined {
  let found: NonNullable<OfferRow['head']> | undefined;
  for (const h of heads) {
    if (h.channel !== channel) continue;
    if (h.architecture === architecture) found = h;
    else found ??= h;
  }
  return found;
}

/**
 * "What does store S offer on channel C for architecture A": for each snap
 * chosen by name or snap-id, the revision a device gets, or nothing; and
 * the snaps the store shows among them whether or not anything is released
 * for the channel (a device is told "not found" and "nothing on that
 * channel" apart). Two indexed queries (three with a pin) whatever the
 * number of snaps, none with the offer index warm.
 */
export async function offerFor(db: Database, tree: StoreTree, storeId: string, select: SnapSelection, channel: Channel, architecture: string, known?: ChainChoices, cache?: OfferRowCache): Promise<{ offered: Map<string, Offered>; visible: SnapRecord[] }> {
  const chain = inheritChain(tree, storeId);
  const out = new Map<string, Offered>();
  const visible: SnapRecord[] = [];
  const names = select.names ?? [];
  const snapIds = select.snapIds ?? [];
  if (chain.length === 0 || names.length + snapIds.length === 0) return { offered: out, visible };
  const ids = chain.map((s) => s.id);
  const channels = fallbackChain(channel);
  const arches = [architecture, 'all'];
  // Two queries whatever the number of names (none with a warm cache): the snaps with their candidate heads and revisions, then the stores' choices about them.
  const rows = await offerRows(db, names, snapIds, channels, arches, cache);
  // Grouped by snap with numbers for keys: a 50-snap refresh builds no string per row (measured in bench:store).
  const bySnap = new Map<number, { snap: SnapRecord; heads: Array<NonNullable<OfferRow['head']>> }>();
  for (const r of rows) {
    let entry = bySnap.get(r.snap.pk);
    if (!entry) {
      entry = { snap: r.snap, heads: [] };
      bySnap.set(r.snap.pk, entry);
    }
    if (r.head) entry.heads.push(r.head);
  }
  const pks = [...bySnap.keys()];
  const curation = new CurationRepository(db);
  const [choices, pins] = known
    ? [known.curation.filter((c) => bySnap.has(c.snapPk)), known.pins.filter((p) => bySnap.has(p.snapPk))]
    : await Promise.all([curation.forSnaps(ids, pks), curation.pinsFor(ids, pks)]);
  const pinOf = new Map<string, number>();
  if (pins.length > 0) for (const id of [...ids].reverse()) for (const p of pins) if (p.storeId === id) pinOf.set(`${p.snapPk}\0${p.channel}`, p.revision);
  const pinned: Array<{ snap: SnapRecord; revision: number; channel: string }> = [];
  for (const { snap, heads } of bySnap.values()) {
    if (!isVisible(chain, snap, choices)) continue;
    visible.push(snap);
    for (const ch of channels) {
      const pin = pinOf.size > 0 ? pinOf.get(`${snap.pk}\0${ch}`) : undefined;
      if (pin !== undefined) {
        pinned.push({ snap, revision: pin, channel: ch });
        break;
      }
      const head = headOn(heads, ch, architecture);
      if (head) {
        out.set(snap.name, { snap, revision: head.revision, channel: ch });
        break;
      }
    }
  }
  if (pinned.length === 0) return { offered: out, visible };
  const revisions = cache ? await cache.pinnedRevisions(pinned.map((p) => ({ snapPk: p.snap.pk, revision: p.revision }))) : await queryRevisions(db, pinned.map((p) => ({ snapPk: p.snap.pk, revision: p.revision })));
  for (const p of pinned) {
    const revision = revisions.find((r) => r.snapPk === p.snap.pk && r.revision === p.revision);
    // A pinned revision not built for this architecture offers nothing here.
    if (revision && (revision.architectures.includes(architecture) || revision.architectures.includes('all'))) out.set(p.snap.name, { snap: p.snap, revision, channel: p.channel });
  }
  return { offered: out, visible };
}
