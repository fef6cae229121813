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
 * JSON made once and put as it is into a larger answer: a revision's
 * storeSnap does not change, and a 50-snap refresh would otherwise build,
 * serialise and encode the same objects again on every request. Held as
 * UTF-8 bytes, so an answer is copied together rather than re-encoded.
 */
export class RawJson {
  readonly bytes: Buffer;
  constructor(text: string) {
    this.bytes = Buffer.from(text, 'utf8');
  }
  get text(): string {
    return this.bytes.toString('utf8');
  }
}

/**
 * JSON.stringify as UTF-8 bytes, with each RawJson inlined as it is. The
 * top `depth` levels are walked here (a snap action answer holds its
 * RawJson at the third: answer, results, result); below that,
 * JSON.stringify does the rest. The small structural texts between the
 * raw parts are gathered and the answer written into one buffer, so a
 * refresh answer makes no large string (measured in bench:store: the
 * string answer was a fifth of the main thread's time and most of its
 * garbage).
 */
export function encodeWithRaw(value: unknown, depth = 3): Buffer {
  const parts: Array<string | Buffer> = [];
  let text = '';
  const walk = (v: unknown, d: number): void => {
    if (v instanceof RawJson) {
      if (text !== '') parts.push(text);
      text = '';
      parts.push(v.bytes);
      return;
    }
    if (d === 0 || v === null || typeof v !== 'object' || typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      text += JSON.stringify(v) ?? 'null';
      return;
    }
    if (Array.isArray(v)) {
      text += '[';
      for (let i = 0; i < v.length; i++) {
        if (i > 0) text += ',';
        const x: unknown = v[i];
        if (x === undefined || typeof x === 'function') text += 'null';
        else walk(x, d - 1);
      }
      text += ']';
      return;
    }
    text += '{';
    let first = true;
    for (const k of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined || typeof x === 'function') continue;
      text += `${first ? '' : ','}${JSON.stringify(k)}:`;
      first = false;
      walk(x, d - 1);
    }
    text += '}';
  };
  walk(value, depth);
  if (text !== '') parts.push(text);
  let size = 0;
  for (const p of parts) size += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of parts) at += typeof p === 'string' ? out.write(p, at, 'utf8') : p.copy(out, at);
  return out;
}

/** What a storeSnap was made for beside its revision: a change to any of them makes it again. */
interface Made {
  readonly snap: SnapRecord;
  readonly publicUrl: string;
  readonly publisher: Publisher;
  readonly json: RawJson;
}

const samePublisher = (a: Publisher, b: Publisher) => a.id === b.id && a.username === b.username && a['display-name'] === b['display-name'] && a.validation === b.validation;

/** A catalog revision as snapd's storeSnap JSON, with the snap.yaml texts read once per revision. */
export class SnapJson {
  private readonly described = new Map<string, Described>();
  /** Dropped with the revision record (the offer index lets go of a changed snap's rows). */
  private readonly made = new WeakMap<RevisionRecord, Made>();

  /**
   * The storeSnap of an action result (snap-yaml included), serialised once
   * per revision. Keyed by the revision record itself: the offer index hands
   * out the same records until the snap changes, so a hit builds no key.
   */
  raw(snap: SnapRecord, revision: RevisionRecord, publicUrl: string, downloadUrl: (snap: SnapRecord, revision: RevisionRecord) => string, publisher: Publisher): RawJson {
    const hit = this.made.get(revision);
    if (hit && hit.snap === snap && hit.publicUrl === publicUrl && samePublisher(hit.publisher, publisher)) return hit.json;
    const json = new RawJson(JSON.stringify(this.of(snap, revision, downloadUrl(snap, revision), publisher, true)));
    this.made.set(revision, { snap, publicUrl, publisher, json });
    return json;
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
