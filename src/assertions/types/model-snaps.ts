import { AssertionError } from '../errors.js';
import type { HeaderMap, HeaderValue } from '../headers.js';
import {
  VALID_SNAP_ID,
  checkNotEmptyString,
  checkOptionalString,
  checkStringList,
  checkOptionalBool,
  checkStringMatches,
  validSnapName,
} from '../checks.js';

/** The `snaps` header of grade-based models (UC20 and later): each snap, its type, presence, modes, channel and components. */

export type ModelGrade = 'secured' | 'signed' | 'dangerous';

export interface ModelSnap {
  readonly name: string;
  readonly id: string;
  readonly type: string;
  readonly presence: 'required' | 'optional';
  readonly modes: readonly string[];
  readonly defaultChannel: string;
  /** For series 16 `kernel: name=track` and `gadget: name=track`. */
  readonly pinnedTrack: string;
  readonly classic: boolean;
}

const SNAP_TYPES = ['app', 'base', 'gadget', 'kernel', 'core', 'snapd'];
const PRESENCES = ['required', 'optional'] as const;
const VALID_MODE = /^[a-z][-a-z]+$/;
export const RISKS = ['stable', 'candidate', 'beta', 'edge'];
const ESSENTIAL_MODES = ['run', 'ephemeral'];

/** Bases whose snap ids snapd knows, so grade-based models may leave them out of `snaps`. */
const WELL_KNOWN_BASES = new Set(['core', 'core18', 'core20', 'core22', 'core24', 'snapd']);

const invalid = (message: string, header = 'snaps'): AssertionError =>
  new AssertionError('ERR_HEADER_INVALID', message, { header });

function isEssential(name: string, type: string, base: string): boolean {
  return type === 'snapd' || type === 'kernel' || type === 'gadget' || name === base;
}

function checkModelSnap(entry: HeaderMap, base: string, grade: ModelGrade, modelClassic: boolean): ModelSnap {
  const name = checkNotEmptyString(entry, 'name', 'of snap');
  if (!validSnapName(name)) throw invalid(`invalid snap name "${name}"`);
  const what = `of snap "${name}"`;
  let id = '';
  if (entry['id'] !== undefined) {
    id = checkStringMatches(entry, 'id', VALID_SNAP_ID, what);
  } else if (grade !== 'dangerous') {
    throw new AssertionError('ERR_HEADER_MISSING', `"id" ${what} is mandatory for ${grade} grade model`, { header: 'snaps' });
  }
  const type = checkOptionalString(entry, 'type', what) || 'app';
  if (!SNAP_TYPES.includes(type)) throw invalid(`type of snap "${name}" must be one of ${SNAP_TYPES.join('|')}`);
  const essential = isEssential(name, type, base);
  const presenceText = checkOptionalString(entry, 'presence', what);
  if (presenceText && !(PRESENCES as readonly string[]).includes(presenceText)) {
    throw invalid(`presence of snap "${name}" must be one of required|optional`);
  }
  if (essential && presenceText) {
    throw invalid(`essential snaps are always available, cannot specify presence for snap "${name}"`);
  }
  let modes = checkStringList(entry, 'modes', VALID_MODE, what);
  if (essential && modes.length > 0) {
    throw invalid(`essential snaps are always available, cannot specify modes ${what}`);
  }
  if (essential) modes = ESSENTIAL_MODES;
  if (modes.length === 0) modes = ['run'];
  const defaultChannel = checkOptionalString(entry, 'default-channel', what) || 'latest/stable';
  checkDefaultChannel(name, defaultChannel);
  const classic = checkOptionalBool(entry, 'classic', what);
  if (classic && !modelClassic) throw invalid(`snap "${name}" cannot be classic in non-classic model`);
  if (classic && type !== 'app') throw invalid(`snap "${name}" cannot be classic with type "${type}" instead of app`);
  if (classic && (modes.length !== 1 || modes[0] !== 'run')) {
    throw invalid(`classic snap "${name}" not allowed outside of run mode: ${modes.join(',')}`);
  }
  checkComponents(entry, modes, what);
  return {
    name,
    id,
    type,
    presence: (presenceText || 'required') as 'required' | 'optional',
    modes,
    defaultChannel,
    pinnedTrack: '',
    classic,
  };
}

/** `track[/risk[/branch]]` with a track; a bare risk is not a channel for a model. */
function checkDefaultChannel(name: string, channel: string): void {
  const parts = channel.split('/');
  const ok =
    parts.length <= 3 &&
    parts.every((p) => p.length > 0 && /^[a-zA-Z0-9][-a-zA-Z0-9._]*$/.test(p)) &&
    !RISKS.includes(parts[0] as string) &&
    (parts.length === 1 || RISKS.includes(parts[1] as string));
  if (!ok) throw invalid(`invalid default channel for snap "${name}": "${channel}"`);
}

function checkComponents(entry: HeaderMap, snapModes: readonly string[], what: string): void {
  const comps = entry['components'];
  if (comps === undefined) return;
  if (typeof comps === 'string' || Array.isArray(comps)) {
    throw invalid(`"components" ${what} must be a map from strings to components`);
  }
  for (const [name, comp] of Object.entries(comps as HeaderMap)) {
    if (!validSnapName(name)) throw invalid(`invalid component name ${name}`);
    const compWhat = `of component "${name}" ${what}`;
    if (typeof comp === 'string') {
      if (!(PRESENCES as readonly string[]).includes(comp)) throw invalid(`presence ${compWhat} must be one of required|optional`);
      continue;
    }
    if (Array.isArray(comp)) throw invalid(`${compWhat} must be a map of strings to components or one of required|optional`);
    const fields = comp as HeaderMap;
    for (const key of Object.keys(fields)) {
      if (key !== 'presence' && key !== 'modes') throw invalid(`entry "${key}" ${compWhat} is unknown`);
    }
    const presence = checkNotEmptyString(fields, 'presence', compWhat);
    if (!(PRESENCES as readonly string[]).includes(presence)) throw invalid(`presence ${compWhat} must be one of required|optional`);
    for (const mode of checkStringList(fields, 'modes', VALID_MODE, compWhat)) {
      if (!snapModes.includes(mode)) throw invalid(`mode "${mode}" ${compWhat} is incompatible with the snap modes`);
    }
  }
}

export function checkSnapsList(value: HeaderValue, base: string, grade: ModelGrade, classic: boolean): ModelSnap[] {
  const wrong = () => invalid('"snaps" header must be a list of maps');
  if (!Array.isArray(value)) throw wrong();
  const snaps: ModelSnap[] = [];
  const seenIds = new Map<string, string>();
  let snapd: ModelSnap | undefined;
  let kernel: ModelSnap | undefined;
  let gadget: ModelSnap | undefined;
  for (const item of value as readonly HeaderValue[]) {
    if (typeof item === 'string' || Array.isArray(item)) throw wrong();
    const snap = checkModelSnap(item as HeaderMap, base, grade, classic);
    if (snaps.some((s) => s.name === snap.name)) throw invalid(`cannot list the same snap "${snap.name}" multiple times`);
    if (snap.id) {
      const under = seenIds.get(snap.id);
      if (under) {
        throw invalid(`cannot specify the same snap id "${snap.id}" multiple times, specified for snaps "${under}" and "${snap.name}"`);
      }
      seenIds.set(snap.id, snap.name);
    }
    const single = (prev: ModelSnap | undefined, kind: string): ModelSnap => {
      if (prev) throw invalid(`cannot specify multiple ${kind} snaps: "${prev.name}" and "${snap.name}"`);
      return snap;
    };
    if (snap.type === 'snapd') snapd = single(snapd, 'snapd');
    else if (snap.type === 'kernel') kernel = single(kernel, 'kernel');
    else if (snap.type === 'gadget') gadget = single(gadget, 'gadget');
    else if (snap.name === base && snap.type !== 'base') {
      throw invalid(`boot base "${base}" must specify type "base", not "${snap.type}"`);
    }
    snaps.push(snap);
  }
  if (!classic) {
    if (!gadget) throw new AssertionError('ERR_HEADER_MISSING', 'one "snaps" header entry must specify the model gadget', { header: 'snaps' });
    if (!kernel) throw new AssertionError('ERR_HEADER_MISSING', 'one "snaps" header entry must specify the model kernel', { header: 'snaps' });
  } else if (kernel && !gadget) {
    throw invalid('cannot specify a kernel in an extended classic model without a model gadget');
  }
  if (!snaps.some((s) => s.name === base) && !WELL_KNOWN_BASES.has(base) && grade !== 'dangerous') {
    throw invalid(`cannot specify not well-known base "${base}" without a corresponding "snaps" header entry`);
  }
  return snaps;
}
