import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import type { HeaderMap, HeaderValue } from '../headers.js';
import {
  VALID_ACCOUNT_ID,
  VALID_MODEL,
  VALID_SNAP_ID,
  checkDate,
  checkInt,
  checkNotEmptyString,
  checkOptionalBool,
  checkOptionalString,
  checkStringList,
  checkStringMatches,
  forbid,
  oneOf,
  validSnapName,
} from '../checks.js';

export type ModelGrade = 'secured' | 'signed' | 'dangerous';
export type StorageSafety = 'encrypted' | 'prefer-encrypted' | 'prefer-unencrypted';

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

export interface ModelValidationSet {
  readonly accountId: string;
  readonly name: string;
  readonly sequence: number;
  readonly mode: 'enforce' | 'prefer-enforce';
}

export interface ModelView {
  readonly series: string;
  readonly brandId: string;
  readonly model: string;
  readonly displayName: string;
  readonly classic: boolean;
  readonly distribution: string;
  readonly architecture: string;
  /** Set only for grade-based models (with a `snaps` header). */
  readonly grade: ModelGrade | undefined;
  readonly storageSafety: StorageSafety | undefined;
  readonly base: string;
  readonly gadget: ModelSnap | undefined;
  readonly kernel: ModelSnap | undefined;
  readonly snaps: readonly ModelSnap[];
  readonly requiredSnaps: readonly string[];
  readonly store: string;
  /** Who may sign serials for this model: always includes the brand. */
  readonly serialAuthority: readonly string[];
  /** Who may sign system users; undefined means any (`*`). */
  readonly systemUserAuthority: readonly string[] | undefined;
  readonly validationSets: readonly ModelValidationSet[];
  readonly timestamp: Date;
}

declare module '../assertion.js' {
  interface ViewsByType {
    model: ModelView;
  }
}

const GRADES: readonly ModelGrade[] = ['secured', 'signed', 'dangerous'];
const STORAGE_SAFETIES: readonly StorageSafety[] = ['encrypted', 'prefer-encrypted', 'prefer-unencrypted'];
const SNAP_TYPES = ['app', 'base', 'gadget', 'kernel', 'core', 'snapd'];
const PRESENCES = ['required', 'optional'] as const;
const VALID_MODE = /^[a-z][-a-z]+$/;
const VALID_DISTRIBUTION = /^[a-z0-9._-]*$/;
const VALID_VALIDATION_SET_NAME = /^[a-z0-9](?:-?[a-z0-9])*$/;
const RISKS = ['stable', 'candidate', 'beta', 'edge'];
const ESSENTIAL_MODES = ['run', 'ephemeral'];

/** Bases whose snap ids snapd knows, so grade-based models may leave them out of `snaps`. */
const WELL_KNOWN_BASES = new Set(['core', 'core18', 'core20', 'core22', 'core24', 'snapd']);

const invalid = (message: string, header = 'snaps'): AssertionError =>
  new AssertionError('ERR_HEADER_INVALID', message, { header });

export function checkModelName(headers: HeaderMap): string {
  const model = checkStringMatches(headers, 'model', VALID_MODEL);
  if (model.toLowerCase() !== model) throw invalid('"model" header cannot contain uppercase letters', 'model');
  return model;
}

export function checkAuthorityIsBrand(headers: HeaderMap, typeName: string): string {
  const brandId = checkNotEmptyString(headers, 'brand-id');
  const authorityId = checkNotEmptyString(headers, 'authority-id');
  if (authorityId !== brandId) {
    throw new AssertionError(
      'ERR_HEADER_MISMATCH',
      `authority-id and brand-id must match, ${typeName} assertions are expected to be signed by the brand: "${authorityId}" != "${brandId}"`,
      { header: 'authority-id' },
    );
  }
  return brandId;
}

function checkTrackSnap(headers: HeaderMap, which: 'kernel' | 'gadget'): ModelSnap | undefined {
  const v = headers[which];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`"${which}" header must be a string`, which);
  const eq = v.indexOf('=');
  const name = eq === -1 ? v : v.slice(0, eq);
  const track = eq === -1 ? '' : v.slice(eq + 1);
  if (!validSnapName(name)) throw invalid(`invalid snap name in "${which}" header: ${name}`, which);
  if (track.includes('/')) throw invalid(`"${which}" channel selector must be a track name only`, which);
  if (RISKS.includes(track)) throw invalid(`"${which}" channel selector must be a track name`, which);
  return {
    name,
    id: '',
    type: which,
    presence: 'required',
    modes: ['run'],
    defaultChannel: '',
    pinnedTrack: track,
    classic: false,
  };
}

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

function checkSnapsList(value: HeaderValue, base: string, grade: ModelGrade, classic: boolean): ModelSnap[] {
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

function checkAuthorityList(headers: HeaderMap, name: string, brandId: string, wildcard: boolean): string[] | undefined {
  const v = headers[name];
  if (v === undefined) return [brandId];
  if (wildcard && v === '*') return undefined;
  if (Array.isArray(v)) {
    const ids = checkStringList(headers, name, VALID_ACCOUNT_ID);
    return ids.includes(brandId) ? ids : [brandId, ...ids];
  }
  throw invalid(`"${name}" header must be ${wildcard ? "'*' or " : ''}a list of account ids`, name);
}

function checkValidationSets(headers: HeaderMap, brandId: string): ModelValidationSet[] {
  const v = headers['validation-sets'];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalid('"validation-sets" must be a list of validation sets', 'validation-sets');
  const seen = new Set<string>();
  return (v as readonly HeaderValue[]).map((item) => {
    if (typeof item === 'string' || Array.isArray(item)) {
      throw invalid('entry in "validation-sets" is not a valid validation-set', 'validation-sets');
    }
    const m = item as HeaderMap;
    const name = checkStringMatches(m, 'name', VALID_VALIDATION_SET_NAME, 'of validation-set');
    const accountId = checkOptionalString(m, 'account-id', `of validation-set "${name}"`) || brandId;
    const what = `of validation-set "${accountId}/${name}"`;
    let sequence = 0;
    if (m['sequence'] !== undefined) {
      sequence = checkInt(m, 'sequence', what);
      if (sequence <= 0) {
        throw invalid(`"sequence" ${what} must be larger than 0 or left unspecified (meaning tracking latest)`, 'validation-sets');
      }
    }
    const mode = oneOf('mode', checkNotEmptyString(m, 'mode', what), ['prefer-enforce', 'enforce'], what) as
      | 'enforce'
      | 'prefer-enforce';
    const key = `${accountId}/${name}`;
    if (seen.has(key)) throw invalid(`cannot add validation set "${key}" twice`, 'validation-sets');
    seen.add(key);
    return { accountId, name, sequence, mode };
  });
}

export const modelType: TypeSpec<ModelView> = {
  name: 'model',
  primaryKey: ['series', 'brand-id', 'model'],
  check({ headers }) {
    const brandId = checkAuthorityIsBrand(headers, 'model');
    const model = checkModelName(headers);
    const classic = checkOptionalBool(headers, 'classic');
    const snapsHeader = headers['snaps'];
    const extended = snapsHeader !== undefined;

    if (extended) {
      for (const h of ['gadget', 'kernel', 'required-snaps']) {
        forbid(headers, h, 'separately once using the extended snaps header');
      }
    } else {
      forbid(headers, 'grade', 'for a model without the extended snaps header');
      forbid(headers, 'storage-safety', 'for a model without the extended snaps header');
    }
    if (classic && !extended) {
      forbid(headers, 'kernel', 'with a non-extended classic model');
      forbid(headers, 'base', 'with a non-extended classic model');
    }
    let distribution = '';
    if (classic && extended) {
      distribution = checkStringMatches(headers, 'distribution', VALID_DISTRIBUTION);
    } else {
      forbid(headers, 'distribution', 'unless the model is classic and has an extended snaps header');
    }

    const mandatory = extended ? ['architecture', 'base'] : classic ? [] : ['architecture', 'gadget', 'kernel'];
    for (const h of mandatory) checkNotEmptyString(headers, h);
    const architecture = checkOptionalString(headers, 'architecture');
    if (!extended && classic) checkOptionalString(headers, 'gadget');

    const base = checkOptionalString(headers, 'base');
    if (base && !validSnapName(base)) throw invalid(`invalid snap name in "base" header: ${base}`, 'base');
    const store = checkOptionalString(headers, 'store');
    const displayName = checkOptionalString(headers, 'display-name');

    let grade: ModelGrade | undefined;
    let storageSafety: StorageSafety | undefined;
    let snaps: ModelSnap[] = [];
    let gadget: ModelSnap | undefined;
    let kernel: ModelSnap | undefined;
    let requiredSnaps: string[] = [];
    if (extended) {
      const gradeText = checkOptionalString(headers, 'grade');
      grade = gradeText ? (oneOf('grade', gradeText, GRADES) as ModelGrade) : 'signed';
      const safetyText = checkOptionalString(headers, 'storage-safety');
      storageSafety = safetyText
        ? (oneOf('storage-safety', safetyText, STORAGE_SAFETIES) as StorageSafety)
        : grade === 'secured'
          ? 'encrypted'
          : 'prefer-encrypted';
      if (grade === 'secured' && storageSafety !== 'encrypted') {
        throw invalid('secured grade model must not have storage-safety overridden, only "encrypted" is valid', 'storage-safety');
      }
      snaps = checkSnapsList(snapsHeader as HeaderValue, base, grade, classic);
      gadget = snaps.find((s) => s.type === 'gadget');
      kernel = snaps.find((s) => s.type === 'kernel');
    } else {
      kernel = checkTrackSnap(headers, 'kernel');
      gadget = checkTrackSnap(headers, 'gadget');
      requiredSnaps = checkStringList(headers, 'required-snaps');
      for (const name of requiredSnaps) {
        if (!validSnapName(name)) throw invalid(`invalid snap name in "required-snaps" header: ${name}`, 'required-snaps');
      }
    }

    const serialAuthority = checkAuthorityList(headers, 'serial-authority', brandId, false) as string[];
    const systemUserAuthority = checkAuthorityList(headers, 'system-user-authority', brandId, true);
    checkAuthorityList(headers, 'preseed-authority', brandId, false);
    const timestamp = checkDate(headers, 'timestamp');
    const validationSets = checkValidationSets(headers, brandId);

    return {
      series: checkNotEmptyString(headers, 'series'),
      brandId,
      model,
      displayName,
      classic,
      distribution,
      architecture,
      grade,
      storageSafety,
      base,
      gadget,
      kernel,
      snaps,
      requiredSnaps,
      store,
      serialAuthority,
      systemUserAuthority,
      validationSets,
      timestamp,
    };
  },
};
