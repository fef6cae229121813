import { StoreRepository, type StoreTree } from '../accounts/stores.js';
import type { Database } from '../db/database.js';
import { parseChannel, type Channel } from './channels.js';
import { ChannelMap, type ChannelHead, type ReleaseEvent } from './channel-map.js';
import { CurationRepository } from './curation.js';
import { inheritChain, isVisible, offer, type Offered } from './offer.js';
import { SnapRepository, toSnap, type RevisionRecord, type SnapRecord } from './snaps.js';

/**
 * Whose offer a request sees: a store's, through a device session of a
 * model that names it; or, with `publicOnly`, the one store shown to
 * requests without a session, its private snaps hidden.
 */
export interface View {
  readonly storeId: string;
  readonly publicOnly: boolean;
}

/**
 * The catalog as devices read it: which snaps a view offers, on which
 * channel and architecture, and their channel maps. Every device request
 * walks the store tree, so it is read at most once a second; a store
 * created just now shows in offers within that second.
 */
export class OfferReads {
  private cachedTree: { at: number; tree: Promise<StoreTree> } | undefined;

  constructor(private readonly db: Database) {}

  tree(): Promise<StoreTree> {
    const now = Date.now();
    if (!this.cachedTree || now - this.cachedTree.at > 1000) {
      const tree = new StoreRepository(this.db).tree();
      tree.catch(() => (this.cachedTree = undefined));
      this.cachedTree = { at: now, tree };
    }
    return this.cachedTree.tree;
  }

  /** For each name, the revision the view's store offers on `channel` for `architecture`. */
  async offer(view: View, names: readonly string[], channel: Channel | string, architecture: string): Promise<Map<string, Offered>> {
    const found = await offer(this.db, await this.tree(), view.storeId, names, typeof channel === 'string' ? parseChannel(channel) : channel, architecture);
    if (view.publicOnly) for (const [name, o] of found) if (o.snap.private) found.delete(name);
    return found;
  }

  /** The snaps among `snaps` that the view offers (whatever is released). */
  async visible(view: View, snaps: readonly SnapRecord[]): Promise<SnapRecord[]> {
    if (snaps.length === 0) return [];
    const chain = inheritChain(await this.tree(), view.storeId);
    const curation = await new CurationRepository(this.db).forSnaps(
      chain.map((s) => s.id),
      snaps.map((s) => s.pk),
    );
    return snaps.filter((s) => !(view.publicOnly && s.private) && isVisible(chain, s, curation));
  }

  /** The snaps of these names that the view offers. */
  async visibleByName(view: View, names: readonly string[]): Promise<SnapRecord[]> {
    return this.visible(view, await new SnapRepository(this.db).byNames(names));
  }

  /** The snaps of these snap-ids that the view offers. */
  async visibleById(view: View, snapIds: readonly string[]): Promise<SnapRecord[]> {
    return this.visible(view, await new SnapRepository(this.db).bySnapIds(snapIds));
  }

  /** Every snap of the view whose name contains `term` (all of them for an empty term), by name. */
  async search(view: View, term: string, limit: number): Promise<SnapRecord[]> {
    const tree = await this.tree();
    const chain = inheritChain(tree, view.storeId);
    const ids = chain.map((s) => s.id);
    const curation = await new CurationRepository(this.db).forStores(ids);
    const includes = curation.filter((c) => c.mode === 'include').map((c) => c.snapPk);
    const like = `%${term.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.db('snaps')
      .where((q) => q.whereIn('store_id', ids).orWhereIn('id', includes.length > 0 ? includes : [-1]))
      .andWhereRaw("lower(name) like ? escape '\\'", [like])
      .orderBy('name')
      .limit(limit * 4);
    const snaps = rows.map(toSnap);
    return snaps.filter((s) => !(view.publicOnly && s.private) && isVisible(chain, s, curation)).slice(0, limit);
  }

  heads(snapPks: readonly number[]): Promise<ChannelHead[]> {
    return new ChannelMap(this.db).heads(snapPks);
  }

  history(snapPk: number): Promise<ReleaseEvent[]> {
    return new ChannelMap(this.db).history(snapPk);
  }

  revision(snap: SnapRecord, revision: number): Promise<RevisionRecord | undefined> {
    return new SnapRepository(this.db).revision(snap.pk, revision);
  }

  /** Revisions by number, for channel maps. */
  async revisions(snapPk: number, numbers: readonly number[]): Promise<RevisionRecord[]> {
    return (await new SnapRepository(this.db).revisions(snapPk)).filter((r) => numbers.includes(r.revision));
  }
}
