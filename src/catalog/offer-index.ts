import { COMMITTED } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';
import { queryOfferRows, queryRevisions, type OfferRow, type OfferRowCache } from './offer.js';
import type { RevisionRecord } from './snaps.js';

/** The rows of one set of channels and architectures, by snap name and by snap-id. */
interface Scope {
  readonly byName: Map<string, readonly OfferRow[]>;
  readonly byId: Map<string, readonly OfferRow[]>;
  /** Moves on every change forgotten: a read begun before it does not store what it read. */
  version: number;
  /** Filled with every snap of the catalog, once. */
  loading: Promise<void> | undefined;
}

/** Above this many snaps a scope is filled snap by snap, as asked, rather than all at once. */
const PRELOAD_LIMIT = 50_000;
/** Outbox rows read per look: more changes than that since the last look drop everything. */
const OUTBOX_PAGE = 2000;

/** Appends the rows held for each key to `out`; returns the keys not held. */
function held(rows: ReadonlyMap<string, readonly OfferRow[]>, keys: readonly string[], out: OfferRow[]): string[] {
  const missing: string[] = [];
  for (const key of keys) {
    const hit = rows.get(key);
    if (hit === undefined) missing.push(key);
    else for (let i = 0; i < hit.length; i++) out.push(hit[i] as OfferRow);
  }
  return missing;
}

/**
 * The offer index: the rows of the offer query held in memory, so that a
 * device's refresh costs no database query. It is filled with the whole
 * catalog on first use (up to PRELOAD_LIMIT snaps), then kept current from
 * the outbox, the change feed every unit of work writes: a change to a snap
 * drops that snap's rows, read again when next asked. The outbox is read
 * before the next read after a commit in this process, and at least once a
 * second for changes made by other processes (the command line on the same
 * data directory).
 */
export class OfferIndex implements OfferRowCache {
  private readonly scopes = new Map<string, Scope>();
  /** Pinned revisions by `snapPk/revision`; dropped whole on any change to a snap (pins change seldom). */
  private pinned = new Map<string, RevisionRecord | null>();
  private pinnedVersion = 0;
  private seen: number | undefined;
  private checkedAt = 0;
  private dirty = true;
  private following: Promise<void> | undefined;

  constructor(
    private readonly db: Database,
    /** Called when another process changed something: the store tree and curation are read again. */
    private readonly onStoresChanged: () => void,
  ) {
    db.on(COMMITTED, () => (this.dirty = true));
  }

  async rows(select: { readonly names: readonly string[]; readonly snapIds: readonly string[] }, channels: readonly string[], arches: readonly string[]): Promise<OfferRow[]> {
    await this.current();
    const scope = await this.scope(channels, arches);
    const out: OfferRow[] = [];
    const names = held(scope.byName, select.names, out);
    const snapIds = held(scope.byId, select.snapIds, out);
    if (names.length + snapIds.length === 0) return out;
    const version = scope.version;
    const fetched = await queryOfferRows(this.db, { names, snapIds }, channels, arches);
    if (scope.version === version) {
      // Names and ids not found are kept too (as no rows): a device asking for them again costs nothing.
      for (const n of names) scope.byName.set(n, fetched.filter((r) => r.snap.name === n));
      for (const i of snapIds) scope.byId.set(i, fetched.filter((r) => r.snap.snapId === i));
    }
    return [...out, ...fetched];
  }

  async pinnedRevisions(wanted: ReadonlyArray<{ snapPk: number; revision: number }>): Promise<RevisionRecord[]> {
    await this.current();
    const key = (w: { snapPk: number; revision: number }) => `${w.snapPk}/${w.revision}`;
    const missing = wanted.filter((w) => !this.pinned.has(key(w)));
    if (missing.length > 0) {
      const version = this.pinnedVersion;
      const found = await queryRevisions(this.db, missing);
      if (version === this.pinnedVersion) for (const w of missing) this.pinned.set(key(w), found.find((r) => r.snapPk === w.snapPk && r.revision === w.revision) ?? null);
      if (this.pinned.size > 100_000) this.pinned.clear();
      return [...wanted.flatMap((w) => this.pinned.get(key(w)) ?? []), ...found.filter((r) => !this.pinned.has(key(r)))];
    }
    return wanted.flatMap((w) => this.pinned.get(key(w)) ?? []);
  }

  private async scope(channels: readonly string[], arches: readonly string[]): Promise<Scope> {
    const key = `${channels.join(',')}\0${arches.join(',')}`;
    let scope = this.scopes.get(key);
    if (!scope) {
      const created: Scope = { byName: new Map(), byId: new Map(), version: 0, loading: undefined };
      scope = created;
      this.scopes.set(key, created);
      created.loading = this.preload(created, channels, arches).catch(() => undefined);
    }
    await scope.loading;
    return scope;
  }

  private async preload(scope: Scope, channels: readonly string[], arches: readonly string[]): Promise<void> {
    const count = Number(((await this.db('snaps').count('* as n').first()) as { n?: unknown } | undefined)?.n ?? 0);
    if (count > PRELOAD_LIMIT) return;
    const version = scope.version;
    const rows = await queryOfferRows(this.db, 'all', channels, arches);
    if (scope.version !== version) return;
    const byName = new Map<string, OfferRow[]>();
    for (const r of rows) {
      const list = byName.get(r.snap.name) ?? [];
      list.push(r);
      byName.set(r.snap.name, list);
    }
    for (const [name, list] of byName) {
      scope.byName.set(name, list);
      scope.byId.set((list[0] as OfferRow).snap.snapId, list);
    }
  }

  /**
   * Brings the index up to date with the outbox: before the next read after
   * a commit here; in the background, without holding up the request, once
   * a second for other processes' changes.
   */
  private async current(): Promise<void> {
    // A look already under way may have read the outbox before the commit that made us dirty: look again until one began after it.
    while (this.dirty || this.seen === undefined) await this.look();
    if (Date.now() - this.checkedAt >= 1000) void this.look().catch(() => undefined);
  }

  private look(): Promise<void> {
    this.following ??= this.follow().finally(() => (this.following = undefined));
    return this.following;
  }

  private async follow(): Promise<void> {
    this.dirty = false;
    this.checkedAt = Date.now();
    if (this.seen === undefined) {
      // Nothing is held yet: start from the end of the feed.
      this.seen = Number(((await this.db('outbox').max('seq as seq').first()) as { seq?: unknown } | undefined)?.seq ?? 0);
      return;
    }
    const changes = (await this.db('outbox').where('seq', '>', this.seen).orderBy('seq').limit(OUTBOX_PAGE).select('seq', 'entity', 'key')) as Array<{ seq: number; entity: string; key: string }>;
    if (changes.length === 0) return;
    this.seen = Number((changes.at(-1) as { seq: number }).seq);
    // A page that long, or a snapshot from central (an appliance): everything is read again.
    if (changes.length === OUTBOX_PAGE || changes.some((c) => c.entity === 'sync' && c.key === 'all')) {
      this.scopes.clear();
      this.pinned = new Map();
      this.pinnedVersion++;
      this.onStoresChanged();
      return;
    }
    for (const c of changes) if (c.entity === 'snap') this.forget(String(c.key).split('/')[0] as string);
    // Curation, pins and the store tree are small and read again whole.
    this.onStoresChanged();
  }

  /** Drops a snap's rows everywhere, by name and by snap-id. */
  private forget(name: string): void {
    this.pinned = new Map();
    this.pinnedVersion++;
    for (const scope of this.scopes.values()) {
      scope.version++;
      for (const r of scope.byName.get(name) ?? []) scope.byId.delete(r.snap.snapId);
      scope.byName.delete(name);
    }
  }
}
