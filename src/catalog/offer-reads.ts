import { StoreRepository, type StoreTree } from '../accounts/stores.js';
import { COMMITTED } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';
import { parseChannel, type Channel } from './channels.js';
import { ChannelMap, type ChannelHead, type ReleaseEvent } from './channel-map.js';
import { CurationRepository } from './curation.js';
import { inheritChain, isVisible, offerFor, type ChainChoices, type Offered, type SnapSelection } from './offer.js';
import { OfferIndex } from './offer-index.js';
import { HeldValue } from './held-value.js';
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
  private readonly heldTree = new HeldValue(() => new StoreRepository(this.db).tree(), 1000);
  private readonly heldChoices = new Map<string, HeldValue<ChainChoices>>();
  /** The offer rows held in memory, kept current from the outbox. */
  private readonly index: OfferIndex;

  constructor(private readonly db: Database) {
    const forgetStores = () => {
      this.heldTree.drop();
      // Each store's chain may have changed with the tree: its choices are looked up afresh.
      this.heldChoices.clear();
    };
    // A change committed by this process shows in the next offer; one made by another process within a second.
    db.on(COMMITTED, forgetStores);
    this.index = new OfferIndex(db, forgetStores);
  }

  tree(): Promise<StoreTree> {
    return this.heldTree.get();
  }

  /** For each name, the revision the view's store offers on `channel` for `architecture`. */
  async offer(view: View, names: readonly string[], channel: Channel | string, architecture: string): Promise<Map<string, Offered>> {
    return (await this.offerFor(view, { names }, typeof channel === 'string' ? parseChannel(channel) : channel, architecture)).offered;
  }

  /**
   * A store chain's includes, excludes and pins, read at most once a second
   * like the tree: every device request needs them, and they change when an
   * administrator curates, not per request.
   */
  private choices(tree: StoreTree, storeId: string): Promise<ChainChoices> {
    let held = this.heldChoices.get(storeId);
    if (!held) {
      const ids = inheritChain(tree, storeId).map((s) => s.id);
      const repo = new CurationRepository(this.db);
      held = new HeldValue(() => Promise.all([repo.forStores(ids), repo.pinsForStores(ids)]).then(([curation, pins]) => ({ curation, pins })), 1000);
      if (this.heldChoices.size > 10_000) this.heldChoices.clear();
      this.heldChoices.set(storeId, held);
    }
    return held.get();
  }

  /** The offer for snaps chosen by name or snap-id, and which of them the view shows at all. */
  async offerFor(view: View, select: SnapSelection, channel: Channel, architecture: string): Promise<{ offered: Map<string, Offered>; visible: SnapRecord[] }> {
    const tree = await this.tree();
    const found = await offerFor(this.db, tree, view.storeId, select, channel, architecture, await this.choices(tree, view.storeId), this.index);
    if (!view.publicOnly) return found;
    for (const [name, o] of found.offered) if (o.snap.private) found.offered.delete(name);
    return { offered: found.offered, visible: found.visible.filter((s) => !s.private) };
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

  /** Every snap a store offers (own, inherited, included; not excluded), by name, read fresh (for the admin API and the command line). */
  async inStore(storeId: string): Promise<SnapRecord[]> {
    const tree = await new StoreRepository(this.db).tree();
    const chain = inheritChain(tree, storeId);
    const ids = chain.map((s) => s.id);
    const curation = await new CurationRepository(this.db).forStores(ids);
    const repo = new SnapRepository(this.db);
    const candidates = new Map<number, SnapRecord>();
    for (const s of [...(await repo.inStores(ids)), ...(await repo.byPks(curation.filter((c) => c.mode === 'include').map((c) => c.snapPk)))]) candidates.set(s.pk, s);
    return [...candidates.values()].filter((s) => isVisible(chain, s, curation)).sort((a, b) => a.name.localeCompare(b.name));
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

  /**
   * Whether a revision is published for the view: released on one of the
   * snap's channels now, or pinned by a store of the view's chain. A
   * revision pushed but never released, or one whose channel was closed,
   * is not, whatever its number.
   */
  async released(view: View, snap: SnapRecord, revision: number): Promise<boolean> {
    if ((await this.heads([snap.pk])).some((h) => h.revision === revision)) return true;
    const tree = await this.tree();
    const chain = new Set(inheritChain(tree, view.storeId).map((s) => s.id));
    return (await this.choices(tree, view.storeId)).pins.some((p) => p.snapPk === snap.pk && p.revision === revision && chain.has(p.storeId));
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
