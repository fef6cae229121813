import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import { RISKS, checkSnapsList, type ModelGrade, type ModelSnap } from './model-snaps.js';
import type { HeaderMap, HeaderValue } from '../headers.js';
import {
  VALID_ACCOUNT_ID,
  VALID_MODEL,
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

export type StorageSafety = 'encrypted' | 'prefer-encrypted' | 'prefer-unencrypted';
export type { ModelGrade, ModelSnap } from './model-snaps.js';

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
const VALID_DISTRIBUTION = /^[a-z0-9._-]*$/;
const VALID_VALIDATION_SET_NAME = /^[a-z0-9](?:-?[a-z0-9])*$/;


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
