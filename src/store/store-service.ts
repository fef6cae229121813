import { AssertionStore } from '../db/assertion-store.js';
import type { Custody } from '../custody/custody.js';
import type { Database } from '../db/database.js';
import type { BlobStore } from '../catalog/blobs.js';
import { parseChannel } from '../catalog/channels.js';
import { OfferReads, type View } from '../catalog/offer-reads.js';
import type { RevisionRecord, SnapRecord } from '../catalog/snaps.js';
import { readActionRequest } from './action-request.js';
import { AssertionReads } from './assertion-reads.js';
import { DeviceSessions, type DeviceSessionOptions } from './device-sessions.js';
import { StoreError } from './errors.js';
import type { DeviceSession } from './sessions.js';
import { SnapJson, type Publisher } from './snap-json.js';
import { answerActions } from './snap-actions.js';
import { channelMap, searchResult } from './snap-info.js';

export interface StoreOptions extends DeviceSessionOptions {
  /** The URL devices reach the store listener at, ending in "/": download and assertion URLs are made from it. */
  readonly publicUrl: string;
  /** The store whose public snaps requests without a session see; none by default. */
  readonly anonymousStore: string | undefined;
}

/** What a device's file download resolves to. */
export interface SnapFile {
  readonly snap: SnapRecord;
  readonly revision: RevisionRecord;
  readonly path: string;
}

/**
 * The store snapd talks to (STORE.md): device sessions, snap actions, info,
 * find, assertions and files, each answered from the view a request's
 * session gives (its model's store) or the anonymous view.
 */
export class StoreService {
  readonly sessions: DeviceSessions;
  readonly reads: OfferReads;
  readonly assertions: AssertionReads;
  private readonly json = new SnapJson();
  private readonly publishers = new Map<string, { value: Promise<Publisher>; at: number }>();
  private publicUrl: string;

  constructor(
    private readonly db: Database,
    custody: Custody,
    private readonly blobs: BlobStore,
    readonly options: StoreOptions,
    reads: OfferReads = new OfferReads(db),
    clock: () => Date = () => new Date(),
  ) {
    this.publicUrl = options.publicUrl;
    this.reads = reads;
    this.sessions = new DeviceSessions(db, custody, options, clock);
    this.assertions = new AssertionReads(db, custody, this.reads, () => storeAssertionUrl(this.publicUrl), clock);
  }

  /** The URL the listener turned out to be at (a configured port of 0), when no public URL is configured. */
  listeningAt(url: string): void {
    this.publicUrl = url;
  }

  get url(): string {
    return this.publicUrl;
  }

  /** Whose offer a request sees: its session's store, else the anonymous store (public snaps only), else nothing. */
  viewOf(session: DeviceSession | null): View | null {
    if (session?.storeId) return { storeId: session.storeId, publicOnly: false };
    return this.options.anonymousStore ? { storeId: this.options.anonymousStore, publicOnly: true } : null;
  }

  async actions(view: View | null, architecture: string, body: unknown): Promise<{ results: Record<string, unknown>[] }> {
    const req = readActionRequest(body);
    const formats = (body as { 'assertion-max-formats'?: Record<string, unknown> })['assertion-max-formats'];
    const maxFormatAsked = (type: string) => (formats && typeof formats[type] === 'number' ? (formats[type] as number) : undefined);
    const maxFormat = (type: string) => maxFormatAsked(type) ?? Number.MAX_SAFE_INTEGER;
    const results = await answerActions(
      {
        view,
        architecture,
        reads: this.reads,
        assertions: this.assertions,
        maxFormat,
        maxFormatAsked,
        snapJson: async (snap, revision) => this.json.raw(snap, revision, this.publicUrl, this.urlOf, await this.publisher(snap)),
        assertionUrl: (type, pk, max) => this.assertionUrl(type, pk, max),
      },
      req,
    );
    return { results };
  }

  /** `snap info`: the snap with one channel-map entry per channel it is offered on for the architecture. */
  async info(view: View | null, name: string, architecture: string): Promise<Record<string, unknown>> {
    const snap = view ? (await this.reads.visibleByName(view, [name]))[0] : undefined;
    const map = snap && view ? await channelMap(this.reads, view, snap, architecture) : [];
    if (!snap || map.length === 0) throw new StoreError('ERR_STORE_SNAP_UNKNOWN', `no snap named "${name}" in this store`);
    const publisher = await this.publisher(snap);
    const entries = map.map((e) => ({ ...this.json.of(snap, e.revision, this.downloadUrl(snap, e.revision), publisher, false), channel: e.channel }));
    const first = entries[0] as Record<string, unknown>;
    return { 'channel-map': entries, snap: { ...first, channel: undefined }, name: snap.name, 'snap-id': snap.snapId };
  }

  /** `snap find`: snaps of the view whose name contains the term (or starts with `name`), each with what `channel` offers. */
  async find(view: View | null, query: { q?: string; name?: string; channel?: string; privateOnly?: boolean; confinement?: readonly string[] }, architecture: string): Promise<{ results: Record<string, unknown>[] }> {
    if (!view) return { results: [] };
    const term = (query.name ?? query.q ?? '').replace(/\*$/, '');
    let snaps = await this.reads.search(view, term, 100);
    if (query.name) snaps = snaps.filter((s) => s.name.startsWith(term));
    if (query.privateOnly) snaps = snaps.filter((s) => s.private);
    const names = snaps.map((s) => s.name);
    // snapd asks for channel=stable unless `snap find --scope wide`: then whatever is released, the most stable first.
    const offered = await this.reads.offer(view, names, parseChannel(query.channel ?? 'stable'), architecture);
    if (!query.channel) for (const [name, o] of await this.reads.offer(view, names.filter((n) => !offered.has(n)), parseChannel('edge'), architecture)) offered.set(name, o);
    const results: Record<string, unknown>[] = [];
    for (const s of snaps) {
      const o = offered.get(s.name);
      // Core devices ask for confinement=strict: a classic snap they could not install is not shown.
      if (!o || (query.confinement && !query.confinement.includes(o.revision.confinement))) continue;
      results.push(searchResult(this.json.of(s, o.revision, this.downloadUrl(s, o.revision), await this.publisher(s), false), s, o.channel));
    }
    return { results };
  }

  /** The file of a revision, for a view that offers its snap. */
  async file(view: View | null, snapId: string, revision: number): Promise<SnapFile> {
    const unknown = () => new StoreError('ERR_STORE_SNAP_UNKNOWN', `no snap file ${snapId}_${revision}.snap for this device`);
    const snap = view ? (await this.reads.visibleById(view, [snapId]))[0] : undefined;
    if (!snap) throw unknown();
    const r = await this.reads.revision(snap, revision);
    if (!r || r.status !== 'approved' || !(view && (await this.reads.released(view, snap, revision)))) throw unknown();
    // On an appliance a file is fetched from central the first time a device asks for it.
    await this.blobs.ensure(r.sha3_384);
    return { snap, revision: r, path: this.blobs.pathOf(r.sha3_384) };
  }

  private readonly urlOf = (snap: SnapRecord, revision: RevisionRecord): string => this.downloadUrl(snap, revision);

  downloadUrl(snap: SnapRecord, revision: RevisionRecord): string {
    return `${this.publicUrl}download/snaps/${snap.snapId}_${revision.revision}.snap`;
  }

  /** An assertion's URL; with the max-format the device asked for, since snapd GETs stream URLs as they are. */
  assertionUrl(type: string, primaryKey: readonly string[], maxFormat?: number): string {
    return `${this.publicUrl}v2/assertions/${encodeURIComponent(type)}/${primaryKey.map(encodeURIComponent).join('/')}${maxFormat !== undefined ? `?max-format=${maxFormat}` : ''}`;
  }

  /** The publisher as snapd shows it: the account's display name, read at most once a minute. */
  private publisher(snap: SnapRecord): Promise<Publisher> {
    const hit = this.publishers.get(snap.publisherId);
    if (hit && Date.now() - hit.at < 60_000) return hit.value;
    const value = new AssertionStore(this.db).get('account', [snap.publisherId]).then((a) => ({
      id: snap.publisherId,
      username: a?.is('account') ? a.view.username : snap.publisherId,
      'display-name': a?.is('account') ? a.view.displayName : snap.publisherId,
      validation: a?.is('account') && a.view.validation === 'verified' ? ('verified' as const) : ('unproven' as const),
    }));
    value.catch(() => this.publishers.delete(snap.publisherId));
    this.publishers.set(snap.publisherId, { value, at: Date.now() });
    return value;
  }
}

/** The `url` a local store assertion names: the listener's public URL, when it has no query (snapd refuses one). */
function storeAssertionUrl(publicUrl: string): string | undefined {
  const u = new URL(publicUrl);
  return u.search === '' && u.hash === '' ? publicUrl : undefined;
}
