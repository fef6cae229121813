import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import {
  checkDate,
  checkNotEmptyString,
  checkOptionalBool,
  checkOptionalString,
  checkStringList,
  checkStringMatches,
} from '../checks.js';

export interface SystemUserView {
  readonly brandId: string;
  readonly email: string;
  readonly series: readonly string[];
  readonly models: readonly string[];
  readonly serials: readonly string[];
  readonly name: string;
  readonly username: string;
  readonly password: string;
  readonly forcePasswordChange: boolean;
  readonly sshKeys: readonly string[];
  readonly since: Date;
  readonly until: Date;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'system-user': SystemUserView;
  }
}

const VALID_USERNAME = /^[a-z0-9][-a-z0-9._]*$/;
/** A simple addr-spec: enough to refuse what RFC 5322 parsing would refuse in practice. */
const VALID_EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;
/** crypt(3) with SHA-512 or stronger: `$id$[rounds=N$]salt$hash`. */
const VALID_PASSWORD = /^\$(\d+)\$(?:rounds=(\d+)\$)?([a-zA-Z0-9./]+)\$([a-zA-Z0-9./]+)$/;
const YEAR_MS = 365 * 24 * 3600 * 1000;

const invalid = (header: string, message: string) => new AssertionError('ERR_HEADER_INVALID', message, { header });

export const systemUserType: TypeSpec<SystemUserView> = {
  name: 'system-user',
  primaryKey: ['brand-id', 'email'],
  check({ headers, format }) {
    const email = checkNotEmptyString(headers, 'email');
    if (!VALID_EMAIL.test(email)) throw invalid('email', `"email" header must be a RFC 5322 compliant email address: ${JSON.stringify(email)}`);
    const series = checkStringList(headers, 'series');
    const models = checkStringList(headers, 'models');
    const serials = checkStringList(headers, 'serials');
    if (serials.length > 0 && format < 1) throw invalid('serials', 'the "serials" header is only supported for format 1 or greater');
    if (serials.length > 0 && models.length !== 1) {
      throw invalid('models', 'in the presence of the "serials" header "models" must specify exactly one model');
    }
    const name = checkOptionalString(headers, 'name');
    const username = checkStringMatches(headers, 'username', VALID_USERNAME);
    const password = checkOptionalString(headers, 'password');
    if (password) {
      const m = VALID_PASSWORD.exec(password);
      if (!m) throw invalid('password', '"password" header must be a crypt(3) hash of the form "$id$salt$hash"');
      if (Number(m[1]) < 6) throw invalid('password', '"password" header only supports $id$ values of 6 (sha512crypt) or higher');
      if (m[2] !== undefined && (Number(m[2]) < 5000 || Number(m[2]) > 999999999)) {
        throw invalid('password', `"password" header rounds parameter out of bounds: ${m[2]}`);
      }
    }
    const forcePasswordChange = checkOptionalBool(headers, 'force-password-change');
    if (forcePasswordChange && !password) {
      throw invalid('force-password-change', 'cannot use "force-password-change" with an empty "password"');
    }
    const sshKeys = checkStringList(headers, 'ssh-keys');
    const since = checkDate(headers, 'since');
    const until = checkDate(headers, 'until');
    if (until.getTime() < since.getTime()) throw invalid('until', '"until" time cannot be before "since" time');
    const presence = checkOptionalString(headers, 'user-presence');
    if (presence) {
      if (format < 2) throw invalid('user-presence', 'the "user-presence" header is only supported for format 2 or greater');
      if (presence !== 'until-expiration') {
        throw invalid('user-presence', `invalid "user-presence" header, only explicit valid value is "until-expiration": ${JSON.stringify(presence)}`);
      }
    }
    if (models.length === 0 && until.getTime() > since.getTime() + YEAR_MS) {
      throw invalid('until', '"until" time cannot be more than 365 days in the future when no models are specified');
    }
    return {
      brandId: checkNotEmptyString(headers, 'brand-id'),
      email,
      series,
      models,
      serials,
      name,
      username,
      password,
      forcePasswordChange,
      sshKeys,
      since,
      until,
    };
  },
};
