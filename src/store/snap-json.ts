import { parse } from 'yaml';
import type { RevisionRecord, SnapRecord } from '../catalog/snaps.js';

/** What snapd reads as a publisher (`snap.StoreAccount`). */
export interface Publisher {
  readonly id: string;
  readonly username: string;
  readonly 'display-name': string;
  readonly validation: 'verified' | 'unproven' | 'starred';
}

/** snapd's epoch object (`snap.Epoch`) from the snap.yaml form the catalog keeps: "0", "N", "N*" or {read, write}. */
export function epochJson(epoch: string): { read: number[]; write: number[] } {
  if (epoch.startsWith('{')) {
    const o = JSON.parse(epoch) as { read?: number[]; write?: number[] };
    const read = o.read ?? o.write ?? [0];
    return { read, write: o.write ?? read.slice(-1) };
  }
  const star = epoch.endsWith('*');
  const n = Number(star ? epoch.slice(0, -1) : epoch);
  return { read: star ? [n - 1, n] : [n], write: [n] };
}

interface Described {
  readonly summary: string;
  readonly description: string;
  readonly title: string;
  readonly license: string;
  readonly website: string;
  readonly contact: string;
}

/** The texts of snap.yaml a store shows, read once per revision (revisions never change). */
function describe(revision: RevisionRecord, described: Map<string, Described>): Described {
  let d = described.get(revision.sha3_384);
  if (!d) {
    let doc: Record<string, unknown> = {};
    try {
      doc = (parse(revision.snapYaml) ?? {}) as Record<string, unknown>;
    } catch {
      // checked at upload; an unreadable one shows without texts
    }
    const text = (k: string) => (typeof doc[k] === 'string' ? (doc[k] as string) : '');
    d = { summary: text('summary'), description: text('description'), title: text('title'), license: text('license'), website: text('website'), contact: text('contact') };
    if (described.size > 10_000) described.clear();
    described.set(revision.sha3_384, d);
  }
  return d;
}

export const hexDigest = (b64url: string): string => Buffer.from(b64url, 'base64url').toString('hex');

/**
 * JSON text made once and put as it is into a larger answer: a revision's
 * storeSnap does not change, and a 50-snap refresh would otherwise build
 * and serialise the same objects again on every request.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * JSON.stringify, with each RawJson inlined as its text. The top `depth`
 * levels are walked here (a snap action answer holds its RawJson at the
 * third: answer, results, result); below that, JSON.stringify does the
 * rest. No replacer function: it would be called for every value.
 */
export function stringifyWithRaw(value: unknown, depth = 3): string {
  if (value instanceof RawJson) return value.text;
  if (depth === 0 || value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (v === undefined || typeof v === 'function' ? 'null' : stringifyWithRaw(v, depth - 1))).join(',')}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value)) if (v !== undefined && typeof v !== 'function') parts.push(`${JSON.stringify(k)}:${stringifyWithRaw(v, depth - 1)}`);
  return `{${parts.join(',')}}`;
}

/** A catalog revision as snapd's storeSnap JSON, with the snap.yaml texts read once per revision. */
export class SnapJson {
  private readonly described = new Map<string, Described>();
  private readonly texts = new Map<string, RawJson>();

  /** The storeSnap of an action result (snap-yaml included), serialised once per revision, URL and publisher. */
  raw(snap: SnapRecord, revision: RevisionRecord, downloadUrl: string, publisher: Publisher): RawJson {
    const key = `${revision.sha3_384}\0${snap.pk}\0${downloadUrl}\0${publisher.id}\0${publisher['display-name']}\0${publisher.validation}\0${snap.private}\0${snap.type}`;
    let hit = this.texts.get(key);
    if (!hit) {
      hit = new RawJson(JSON.stringify(this.of(snap, revision, downloadUrl, publisher, true)));
      if (this.texts.size > 50_000) this.texts.clear();
      this.texts.set(key, hit);
    }
    return hit;
  }

  of(snap: SnapRecord, revision: RevisionRecord, downloadUrl: string, publisher: Publisher, withYaml = true): Record<string, unknown> {
    return storeSnapJson(snap, revision, describe(revision, this.described), downloadUrl, publisher, withYaml);
  }
}

/**
 * A revision as snapd's `storeSnap` JSON: `name`, `snap-id` and `revision`
 * inside, the download with an absolute URL and the hex SHA3-384, and the
 * raw snap.yaml (snapd takes a snap's provenance only from there).
 */
function storeSnapJson(snap: SnapRecord, revision: RevisionRecord, d: Described, downloadUrl: string, publisher: Publisher, withYaml: boolean): Record<string, unknown> {
  return {
    architectures: revision.architectures,
    base: revision.base ?? '',
    confinement: revision.confinement,
    contact: d.contact,
    'created-at': revision.createdAt,
    description: d.description,
    download: { url: downloadUrl, 'sha3-384': hexDigest(revision.sha3_384), size: revision.size, deltas: [] },
    epoch: epochJson(revision.epoch),
    license: d.license,
    links: {},
    media: [],
    name: snap.name,
    prices: {},
    private: snap.private,
    publisher,
    revision: revision.revision,
    'snap-id': snap.snapId,
    ...(withYaml ? { 'snap-yaml': revision.snapYaml } : {}),
    summary: d.summary,
    title: d.title || snap.name,
    type: snap.type,
    version: revision.version,
    website: d.website,
    'store-url': '',
    'common-ids': [],
    categories: [],
  };
}
