import { parseChannel } from '../catalog/channels.js';
import type { OfferReads, View } from '../catalog/offer-reads.js';
import type { RevisionRecord, SnapRecord } from '../catalog/snaps.js';
import type { AssertionReads } from './assertion-reads.js';
import { StoreError } from './errors.js';
import type { ActionRequest, AssertionAt, SnapAction } from './action-request.js';

export interface ActionEnv {
  readonly view: View | null;
  readonly architecture: string;
  readonly reads: OfferReads;
  readonly assertions: AssertionReads;
  /** `assertion-max-formats` of the request (snapd's own defaults when absent). */
  readonly maxFormat: (type: string) => number;
  snapJson(snap: SnapRecord, revision: RevisionRecord): Promise<Record<string, unknown>>;
  assertionUrl(type: string, primaryKey: readonly string[]): string;
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
  const snaps = await visibleSnaps(env, req.actions);
  const installed = new Map(req.context.map((c) => [c.instanceKey, c]));
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
    const chosen = await choose(env, snap, a, current?.trackingChannel);
    if ('error' in chosen) {
      results.push(errorResult(base, chosen.error.code, chosen.error.message, chosen.error.releases));
      continue;
    }
    if (a.action === 'refresh' && current && chosen.revision.revision === current.revision) continue;
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

/** The snaps the actions name that the view offers, by snap-id and by name: two queries for the whole request. */
async function visibleSnaps(env: ActionEnv, actions: readonly SnapAction[]): Promise<{ byId: Map<string, SnapRecord>; byName: Map<string, SnapRecord> }> {
  const ids = new Set<string>();
  const names = new Set<string>();
  for (const a of actions) {
    if (a.action === 'refresh') ids.add(a.snapId);
    else if (a.action === 'install' || a.action === 'download') {
      if (a.snapId) ids.add(a.snapId);
      else if (a.name) names.add(a.name);
    }
  }
  const found = env.view ? [...(await env.reads.visibleById(env.view, [...ids])), ...(await env.reads.visibleByName(env.view, [...names]))] : [];
  return { byId: new Map(found.map((s) => [s.snapId, s])), byName: new Map(found.map((s) => [s.name, s])) };
}

type Refusal = { error: { code: string; message: string; releases?: Array<{ architecture: string; channel: string }> } };

/** The revision an action gets: the one it names, or what its channel (or the installed snap's tracking channel) offers here. */
async function choose(env: ActionEnv, snap: SnapRecord, a: SnapActionOf<'install' | 'download' | 'refresh'>, tracking: string | undefined): Promise<Chosen | Refusal> {
  const view = env.view as View;
  if (a.revision !== undefined && a.channel !== undefined) return { error: { code: 'revision-conflict', message: 'an action names either a channel or a revision, not both' } };
  if (a.revision !== undefined) {
    const r = await env.reads.revision(snap, a.revision);
    const fits = r && r.status === 'approved' && (r.architectures.includes(env.architecture) || r.architectures.includes('all'));
    if (!fits) return { error: { code: 'revision-not-found', message: `revision ${a.revision} of "${snap.name}" is not available for ${env.architecture}`, releases: await releases(env, snap) } };
    return { snap, revision: r, channel: undefined };
  }
  const text = a.channel ?? tracking ?? 'latest/stable';
  let channel;
  try {
    channel = parseChannel(text);
  } catch (e) {
    return { error: { code: 'invalid-channel', message: (e as Error).message } };
  }
  const offered = (await env.reads.offer(view, [snap.name], channel, env.architecture)).get(snap.name);
  if (!offered) return { error: { code: 'revision-not-found', message: `"${snap.name}" has nothing on ${channel.name} for ${env.architecture}`, releases: await releases(env, snap) } };
  return { snap, revision: offered.revision, channel: offered.channel };
}

/** Where the snap is released, for snapd's "available in …" message. */
async function releases(env: ActionEnv, snap: SnapRecord): Promise<Array<{ architecture: string; channel: string }>> {
  return (await env.reads.heads([snap.pk])).map((h) => ({ architecture: h.architecture, channel: h.channel }));
}

/**
 * A `fetch-assertions` action: one stream URL per assertion that is newer
 * than the device's, not-found entries for the rest. No result when nothing
 * changed (snapd reads `results: []` as "all unchanged").
 */
async function fetchAssertions(env: ActionEnv, a: SnapActionOf<'fetch-assertions'>): Promise<Result | undefined> {
  const urls: string[] = [];
  const errors: Result[] = [];
  for (const at of a.assertions as AssertionAt[]) {
    try {
      const found = await env.assertions.find(env.view, at.type, at.primaryKey, env.maxFormat(at.type));
      if (at.ifNewerThan === undefined || found.revision > at.ifNewerThan) urls.push(env.assertionUrl(at.type, at.primaryKey));
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      errors.push({ code: 'not-found', message: `${at.type} ${at.primaryKey.join('/')} not found`, type: at.type, 'primary-key': at.primaryKey });
    }
  }
  for (const s of a.sequenced) errors.push({ code: 'not-found', message: `${s.type} ${s.sequenceKey.join('/')} not found`, type: s.type, 'sequence-key': s.sequenceKey });
  if (urls.length === 0 && errors.length === 0) return undefined;
  return { result: 'fetch-assertions', key: a.key, 'assertion-stream-urls': urls, ...(errors.length > 0 ? { 'error-list': errors } : {}) };
}
