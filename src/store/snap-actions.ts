import { parseChannel, type Channel } from '../catalog/channels.js';
import type { Offered } from '../catalog/offer.js';
import type { OfferReads, View } from '../catalog/offer-reads.js';
import type { RevisionRecord, SnapRecord } from '../catalog/snaps.js';
import type { AssertionReads } from './assertion-reads.js';
import { StoreError } from './errors.js';
import { epochJson, type RawJson } from './snap-json.js';
import type { ActionRequest, AssertionAt, InstalledSnap, SnapAction } from './action-request.js';

export interface ActionEnv {
  readonly view: View | null;
  readonly architecture: string;
  readonly reads: OfferReads;
  readonly assertions: AssertionReads;
  /** `assertion-max-formats` of the request (snapd's own defaults when absent). */
  readonly maxFormat: (type: string) => number;
  /** The max-format the request gave for a type, if it gave one. */
  readonly maxFormatAsked: (type: string) => number | undefined;
  /** parseChannel, memoised for one request. */
  readonly channelOf?: (text: string) => Channel;
  snapJson(snap: SnapRecord, revision: RevisionRecord): Promise<RawJson>;
  /** Where a device GETs an assertion, with the max-format it asked for. */
  assertionUrl(type: string, primaryKey: readonly string[], maxFormat: number | undefined): string;
}

type Result = Record<string, unknown>;
type Chosen = { snap: SnapRecord; revision: RevisionRecord; channel: string | undefined };
type SnapActionOf<K extends SnapAction['action']> = Extract<SnapAction, { action: K }>;

const errorResult = (base: Result, code: string, message: string, releases?: Array<{ architecture: string; channel: string }>): Result => ({
  result: 'error',
  ...base,
  error: { code, message, ...(releases ? { extra: { releases } } : {}) },
});

/**
 * Answers a snap action request as snapd's store client reads it (STORE.md
 * §3.3 and §11): successes carry `name`, `snap-id` and `revision` inside
 * `snap` and echo the `instance-key`; install and download errors carry
 * `name`; a refresh to the revision already installed gets no result.
 */
export async function answerActions(env: ActionEnv, req: ActionRequest): Promise<Result[]> {
  // A 50-snap refresh names the same channel fifty times: each text is parsed once.
  const parsed = new Map<string, Channel | Error>();
  const channelOf = (text: string): Channel => {
    let c = parsed.get(text);
    if (!c) {
      try {
        c = parseChannel(text);
      } catch (e) {
        c = e as Error;
      }
      parsed.set(text, c);
    }
    if (c instanceof Error) throw c;
    return c;
  };
  env = { ...env, channelOf };
  const installed = new Map(req.context.map((c) => [c.instanceKey, c]));
  const { offers, ...snaps } = await resolve(env, req.actions, installed);
  const results: Result[] = [];
  for (const a of req.actions) {
    if (a.action === 'fetch-assertions') {
      const r = await fetchAssertions(env, a);
      if (r) results.push(r);
      continue;
    }
    if (a.action === 'unknown') {
      results.push(errorResult({ 'instance-key': a.instanceKey, name: a.name }, 'invalid-action', 'this store does not know that action'));
      continue;
    }
    const snap = a.action === 'refresh' ? snaps.byId.get(a.snapId) : a.snapId ? snaps.byId.get(a.snapId) : a.name ? snaps.byName.get(a.name) : undefined;
    const base: Result = a.action === 'refresh' ? { 'instance-key': a.instanceKey, 'snap-id': a.snapId, ...(snap ? { name: snap.name } : {}) } : { 'instance-key': a.instanceKey, name: a.name ?? snap?.name ?? '', ...(a.snapId ? { 'snap-id': a.snapId } : {}) };
    if (!snap) {
      const byId = a.action === 'refresh' || a.snapId !== undefined;
      results.push(errorResult(base, byId ? 'id-not-found' : 'name-not-found', byId ? `no snap with id "${base['snap-id']}" in this store` : `no snap named "${a.name ?? ''}" in this store`));
      continue;
    }
    const current = a.action === 'refresh' ? installed.get(a.instanceKey) : undefined;
    const chosen = await choose(env, snap, a, current?.trackingChannel, offers);
    if ('error' in chosen) {
      results.push(errorResult(base, chosen.error.code, chosen.error.message, chosen.error.releases));
      continue;
    }
    if (a.action === 'refresh' && current && chosen.revision.revision === current.revision) continue;
    // A revision that cannot read the installed one's data is no update: snapd would refuse it (checkEpochs).
    if (a.action === 'refresh' && current && !epochJson(chosen.revision.epoch).read.some((e) => current.writes.includes(e))) continue;
    results.push({
      result: a.action,
      'instance-key': a.instanceKey,
      'snap-id': snap.snapId,
      name: snap.name,
      snap: await env.snapJson(snap, chosen.revision),
      ...(chosen.channel ? { 'effective-channel': chosen.channel } : {}),
    });
  }
  return results;
}

type Refusal = { error: { code: string; message: string; releases?: Array<{ architecture: string; channel: string }> } };

type Offers = Map<string, Map<string, Offered>>;

/** The channel an action asks for: its own, else the installed snap's tracking channel, else latest/stable. */
const channelText = (a: SnapActionOf<'install' | 'download' | 'refresh'>, tracking: string | undefined) => a.channel ?? tracking ?? 'latest/stable';

/**
 * The snaps the actions name that the view shows, by snap-id and by name,
 * and what it offers them on each channel asked for: one offer query per
 * distinct channel, whatever the number of snaps, so a 50-snap refresh
 * costs about what one costs. Actions that name a revision (rare) are
 * looked up on their own.
 */
async function resolve(env: ActionEnv, actions: readonly SnapAction[], installed: ReadonlyMap<string, InstalledSnap>): Promise<{ byId: Map<string, SnapRecord>; byName: Map<string, SnapRecord>; offers: Offers }> {
  const byId = new Map<string, SnapRecord>();
  const byName = new Map<string, SnapRecord>();
  const offers: Offers = new Map();
  if (!env.view) return { byId, byName, offers };
  const groups = new Map<string, { channel: Channel; names: string[]; snapIds: string[] }>();
  const pinned = { names: [] as string[], snapIds: [] as string[] };
  for (const a of actions) {
    if (a.action !== 'install' && a.action !== 'download' && a.action !== 'refresh') continue;
    const id = a.snapId;
    const name = a.action === 'refresh' || a.snapId ? undefined : a.name;
    let group: { names: string[]; snapIds: string[] } = pinned;
    if (a.revision === undefined) {
      try {
        const channel = (env.channelOf ?? parseChannel)(channelText(a, a.action === 'refresh' ? installed.get(a.instanceKey)?.trackingChannel : undefined));
        group = groups.get(channel.name) ?? { channel, names: [], snapIds: [] };
        groups.set(channel.name, group as { channel: Channel; names: string[]; snapIds: string[] });
      } catch {
        // an invalid channel: the snap is still looked up, to answer invalid-channel by name
      }
    }
    if (id) group.snapIds.push(id);
    else if (name) group.names.push(name);
  }
  const keep = (snaps: readonly SnapRecord[]) => {
    for (const s of snaps) {
      byId.set(s.snapId, s);
      byName.set(s.name, s);
    }
  };
  for (const [name, g] of groups) {
    const found = await env.reads.offerFor(env.view, { names: g.names, snapIds: g.snapIds }, g.channel, env.architecture);
    offers.set(name, found.offered);
    keep(found.visible);
  }
  if (pinned.snapIds.length > 0) keep(await env.reads.visibleById(env.view, pinned.snapIds));
  if (pinned.names.length > 0) keep(await env.reads.visibleByName(env.view, pinned.names));
  return { byId, byName, offers };
}

/** The revision an action gets: the one it names, or what its channel (or the installed snap's tracking channel) offers here. */
async function choose(env: ActionEnv, snap: SnapRecord, a: SnapActionOf<'install' | 'download' | 'refresh'>, tracking: string | undefined, offers: Offers): Promise<Chosen | Refusal> {
  if (a.revision !== undefined && a.channel !== undefined) return { error: { code: 'revision-conflict', message: 'an action names either a channel or a revision, not both' } };
  if (a.revision !== undefined) {
    const r = await env.reads.revision(snap, a.revision);
    const fits = r && r.status === 'approved' && (r.architectures.includes(env.architecture) || r.architectures.includes('all')) && (await env.reads.released(env.view as View, snap, r.revision));
    if (!fits) return { error: { code: 'revision-not-found', message: `revision ${a.revision} of "${snap.name}" is not available for ${env.architecture}`, releases: await releases(env, snap) } };
    return { snap, revision: r, channel: undefined };
  }
  let channel: Channel;
  try {
    channel = (env.channelOf ?? parseChannel)(channelText(a, tracking));
  } catch (e) {
    return { error: { code: 'invalid-channel', message: (e as Error).message } };
  }
  const offered = offers.get(channel.name)?.get(snap.name);
  if (!offered) return { error: { code: 'revision-not-found', message: `"${snap.name}" has nothing on ${channel.name} for ${env.architecture}`, releases: await releases(env, snap) } };
  return { snap, revision: offered.revision, channel: offered.channel };
}

/** Where the snap is released, for snapd's "available in …" message. */
async function releases(env: ActionEnv, snap: SnapRecord): Promise<Array<{ architecture: string; channel: string }>> {
  return (await env.reads.heads([snap.pk])).map((h) => ({ architecture: h.architecture, channel: h.channel }));
}

/**
 * A `fetch-assertions` action: one stream URL per assertion that is newer
 * than the device's; not-found entries only when nothing was found. No
 * result when nothing changed (snapd reads `results: []` as "all
 * unchanged").
 */
async function fetchAssertions(env: ActionEnv, a: SnapActionOf<'fetch-assertions'>): Promise<Result | undefined> {
  const urls: string[] = [];
  const errors: Result[] = [];
  for (const at of a.assertions as AssertionAt[]) {
    try {
      const found = await env.assertions.find(env.view, at.type, at.primaryKey, env.maxFormat(at.type));
      if (at.ifNewerThan === undefined || found.revision > at.ifNewerThan) urls.push(env.assertionUrl(at.type, at.primaryKey, env.maxFormatAsked(at.type)));
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      errors.push({ code: 'not-found', message: `${at.type} ${at.primaryKey.join('/')} not found`, type: at.type, 'primary-key': at.primaryKey });
    }
  }
  for (const s of a.sequenced) errors.push({ code: 'not-found', message: `${s.type} ${s.sequenceKey.join('/')} not found`, type: s.type, 'sequence-key': s.sequenceKey });
  if (urls.length === 0 && errors.length === 0) return undefined;
  // snapd skips a result's stream URLs when it carries an error-list (snapAction in store_action.go),
  // and one not-found would hold back every update of the group: the missing ones are left out then,
  // which snapd's bookkeeping takes as unchanged.
  if (urls.length > 0) return { result: 'fetch-assertions', key: a.key, 'assertion-stream-urls': urls };
  return { result: 'fetch-assertions', key: a.key, 'assertion-stream-urls': [], 'error-list': errors };
}
