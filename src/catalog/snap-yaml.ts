import { parse } from 'yaml';
import { VALID_PROVENANCE } from '../assertions/types/revision-authority.js';
import { CatalogError } from './errors.js';

export const SNAP_TYPES = ['app', 'gadget', 'kernel', 'base', 'snapd'] as const;
export type SnapType = (typeof SNAP_TYPES)[number];

/** What the catalog keeps of a snap's meta/snap.yaml, with snapd's defaults applied. */
export interface SnapYaml {
  readonly name: string;
  readonly version: string;
  readonly type: SnapType;
  readonly architectures: readonly string[];
  readonly base: string | null;
  readonly confinement: 'strict' | 'classic' | 'devmode';
  readonly grade: 'stable' | 'devel';
  readonly epoch: string;
  readonly provenance: string;
  /** The file as it is, for action results (`snap-yaml`). */
  readonly text: string;
}

/** snapd's snap name rule (`snap.ValidateName`): lower-case letters, digits and single hyphens, at least one letter, 2–40 long. */
export const SNAP_NAME = /^(?:[a-z0-9]+-?)*[a-z](?:-?[a-z0-9])*$/;
export const isSnapName = (name: string) => name.length >= 2 && name.length <= 40 && SNAP_NAME.test(name);

/** snapd's version rule (`snap.ValidateVersion`): up to 32 characters of letters, digits and `.+~-:`, not starting or ending in punctuation other than `+~`. */
const VERSION = /^[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]{0,30}[a-zA-Z0-9+~])?$/;
const EPOCH = /^(?:0|[1-9][0-9]{0,8})\*?$/;
const ARCH = /^[a-z0-9][a-z0-9-]{0,30}$/;

const invalid = (field: string, why: string) => new CatalogError('ERR_SNAP_YAML_INVALID', `meta/snap.yaml: "${field}" ${why}`);

function oneOf<T extends string>(doc: Record<string, unknown>, field: string, allowed: readonly T[], fallback: T): T {
  const v = doc[field] ?? fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalid(field, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
  return v as T;
}

function epochOf(v: unknown): string {
  if (v === undefined || v === null) return '0';
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v);
  if (typeof v === 'string' && EPOCH.test(v)) return v;
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const list = (k: string) => {
      const l = o[k];
      if (l !== undefined && (!Array.isArray(l) || l.some((n) => !Number.isInteger(n) || (n as number) < 0))) throw invalid('epoch', `"${k}" must be a list of epoch numbers`);
      return l as number[] | undefined;
    };
    const read = list('read');
    const write = list('write');
    return JSON.stringify({ ...(read ? { read } : {}), ...(write ? { write } : {}) });
  }
  throw invalid('epoch', 'must be a number, a number followed by "*", or {read, write} lists');
}

/** Reads and checks snap.yaml as snapd does for the fields a store needs (§6 of STORE.md). */
export function parseSnapYaml(text: string): SnapYaml {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 });
  } catch (e) {
    throw new CatalogError('ERR_SNAP_YAML_INVALID', `meta/snap.yaml is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new CatalogError('ERR_SNAP_YAML_INVALID', 'meta/snap.yaml is not a map of fields');
  const d = doc as Record<string, unknown>;
  const name = d['name'];
  if (typeof name !== 'string' || name === '') throw invalid('name', 'is missing');
  if (!isSnapName(name)) throw invalid('name', `"${name}" is not a valid snap name`);
  const version = d['version'];
  if (version === undefined || version === null || version === '') throw invalid('version', 'is missing');
  const v = String(version);
  if (!VERSION.test(v)) {
    throw new CatalogError('ERR_SNAP_VERSION_INVALID', `meta/snap.yaml: version "${v}" is not valid: use up to 32 letters, digits and ".+~-:", starting and ending with a letter or digit`);
  }
  const arches = d['architectures'] ?? ['all'];
  if (!Array.isArray(arches) || arches.length === 0 || arches.some((a) => typeof a !== 'string' || !ARCH.test(a))) throw invalid('architectures', 'must be a list of architecture names');
  const base = d['base'];
  if (base !== undefined && (typeof base !== 'string' || !isSnapName(base))) throw invalid('base', 'must be a snap name');
  const provenance = d['provenance'] ?? 'global-upload';
  if (typeof provenance !== 'string' || !VALID_PROVENANCE.test(provenance) || provenance.length > 64) throw invalid('provenance', 'must be letters, digits and single hyphens');
  return {
    name,
    version: v,
    type: oneOf(d, 'type', SNAP_TYPES, 'app'),
    architectures: [...new Set(arches as string[])].sort(),
    base: typeof base === 'string' ? base : null,
    confinement: oneOf(d, 'confinement', ['strict', 'classic', 'devmode'] as const, 'strict'),
    grade: oneOf(d, 'grade', ['stable', 'devel'] as const, 'stable'),
    epoch: epochOf(d['epoch']),
    provenance,
    text,
  };
}
