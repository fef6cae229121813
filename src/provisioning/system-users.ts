import { AssertionError, formatRfc3339, signAssertion, type Assertion, type HeaderValue, type SystemUserView } from '../assertions/index.js';
import type { Brand } from '../accounts/brands.js';
import { OPERATOR_ACTOR, UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import { CatalogError } from '../catalog/errors.js';
import { ModelRepository } from '../catalog/models.js';
import type { Custody } from '../custody/custody.js';
import { CustodyError } from '../custody/errors.js';
import { constraintsAllow } from '../custody/key-lifecycle.js';
import { usableAt } from '../custody/key-state.js';
import { SigningKeyRepository, type SigningKeyRecord } from '../custody/signing-keys.js';
import { AssertionStore } from '../db/assertion-store.js';
import type { Database } from '../db/database.js';
import { ProvisioningError } from './errors.js';
import { MAX_KEY_BYTES, sha512Crypt } from './sha512-crypt.js';

/**
 * What a system-user is issued for. Credentials: ssh keys, a password, or
 * both; the password as plain text (hashed here with SHA-512 crypt, never
 * kept) or as a crypt(3) hash made elsewhere.
 */
export interface SystemUserInput {
  readonly brand: string;
  readonly email: string;
  readonly username: string;
  /** The person's full name (the account's GECOS); default the username. */
  readonly name?: string;
  /** Models of the brand whose devices accept it: at least one. */
  readonly models: readonly string[];
  /** Only these devices (of exactly one model) accept it: format 1. */
  readonly serials?: readonly string[];
  readonly sshKeys?: readonly string[];
  readonly password?: string;
  readonly passwordHash?: string;
  /** The user must choose a new password at first login (needs a password). */
  readonly forcePasswordChange?: boolean;
  /** Default: the second it is signed. */
  readonly since?: Date;
  /** Default: `since` plus DEFAULT_VALIDITY_DAYS. */
  readonly until?: Date;
}

/**
 * A year, which snapd also allows a system-user that names no model: long
 * enough for a factory run and its repairs, short enough that a leaked
 * assertion stops working by itself. Devices create the user only while the
 * assertion is valid, so one for later use is re-issued, not stretched.
 */
export const DEFAULT_VALIDITY_DAYS = 365;
const DAY_MS = 86_400_000;
/** Signing is outside the transaction: a re-issue that loses a race to another signs again, this many times. */
const SIGN_ATTEMPTS = 3;

/** snapd's username rule (osutil.IsValidUsername); useradd refuses names over 32 characters. */
const VALID_USERNAME = /^[a-z0-9][-a-z0-9._]*$/;
const MAX_USERNAME = 32;
/** A bare addr-spec: no display name, and no "/" (the email is half the primary key). */
const VALID_EMAIL = /^[^\s@<>()[\]\\,;:"/]+@[^\s@<>()[\]\\,;:"/]+$/;
const CRYPT_CHARS = /^[./0-9A-Za-z]+$/;

const invalid = (message: string) => new ProvisioningError('ERR_SYSTEM_USER_INVALID', message);
const unique = (xs: readonly string[] | undefined) => [...new Set((xs ?? []).map((x) => x.trim()))];

/**
 * snapd's shape for the password header ($id$[rounds=N$]salt$hash, id 6 or
 * more, 5000 rounds or more), and for SHA-512 crypt itself what glibc needs
 * to ever match: a salt of 16 characters at most and an 86-character hash.
 * The messages never repeat the hash.
 */
function checkPasswordHash(hash: string): void {
  const m = /^\$(\d+)\$(?:rounds=(\d+)\$)?([^$]*)\$([^$]*)$/.exec(hash);
  if (!m) throw invalid('"passwordHash" must be a crypt(3) hash of the form $6$salt$hash or $6$rounds=N$salt$hash (e.g. from "openssl passwd -6")');
  const [, id, rounds, salt = '', digest = ''] = m;
  if (Number(id) < 6) throw invalid(`"passwordHash" uses crypt method $${id}$: snapd accepts only $6$ (SHA-512) or stronger`);
  if (rounds !== undefined && (Number(rounds) < 5000 || Number(rounds) > 999_999_999)) throw invalid(`"passwordHash" has rounds=${rounds}: snapd accepts 5000 to 999999999`);
  if (!CRYPT_CHARS.test(salt) || !CRYPT_CHARS.test(digest)) throw invalid('"passwordHash" has characters outside "./0-9A-Za-z" in its salt or hash');
  if (id === '6' && (salt.length > 16 || digest.length !== 86)) throw invalid('"passwordHash" is not a SHA-512 crypt hash: its salt is longer than 16 characters or its hash is not 86 characters, so no password would ever match it');
}

/** The checks a person can act on, before any key is touched: which field, and why. */
function checkInput(input: SystemUserInput, now: Date): { since: Date; until: Date; name: string; models: string[]; serials: string[]; sshKeys: string[] } {
  if (!VALID_EMAIL.test(input.email) || input.email.length > 254) throw invalid(`"email" must be a plain address like factory@example.com, not ${JSON.stringify(input.email)}`);
  if (!VALID_USERNAME.test(input.username)) throw invalid(`"username" must start with a lower-case letter or digit and hold only those, "-", "." and "_", not ${JSON.stringify(input.username)}`);
  if (input.username.length > MAX_USERNAME) throw invalid(`"username" has ${input.username.length} characters: devices refuse more than ${MAX_USERNAME}`);
  const name = input.name ?? input.username;
  // The name goes into /etc/passwd: a colon or a line break would break it there.
  if (name.trim() === '' || /[:\p{Cc}]/u.test(name)) throw invalid('"name" must not be empty, nor hold ":" or control characters (it becomes the account\'s full name in /etc/passwd)');
  const models = unique(input.models);
  if (models.length === 0 || models.includes('')) throw invalid('"models" must name at least one model of the brand: a system-user for every device of a brand is not issued here');
  const serials = unique(input.serials);
  if (serials.some((s) => s === '' || /[\s/]/.test(s))) throw invalid('"serials" must be serial numbers without spaces or "/"');
  if (serials.length > 0 && models.length !== 1) throw invalid(`"serials" limits the user to some devices of one model, but ${models.length} models are named: issue one system-user per model`);
  const sshKeys = unique(input.sshKeys);
  for (const k of sshKeys) {
    if (k === '' || /[\r\n]/.test(k)) throw invalid('"sshKeys" must be public keys of one line each (a line of authorized_keys)');
    if (k.includes('PRIVATE KEY')) throw invalid('"sshKeys" holds a private key: give the public key (the .pub file) instead, and consider that private key leaked');
  }
  if (input.password !== undefined && input.passwordHash !== undefined) throw invalid('give "password" or "passwordHash", not both');
  if (input.password !== undefined && input.password === '') throw invalid('"password" must not be empty');
  if (input.password !== undefined && Buffer.byteLength(input.password) > MAX_KEY_BYTES) throw invalid(`"password" is longer than ${MAX_KEY_BYTES} bytes: the devices' crypt(3) refuses longer passphrases, so nobody could log in with it`);
  if (input.passwordHash !== undefined) checkPasswordHash(input.passwordHash);
  const hasPassword = input.password !== undefined || input.passwordHash !== undefined;
  if (sshKeys.length === 0 && !hasPassword) throw invalid('the user needs a way to log in: give "sshKeys", a "password" or a "passwordHash"');
  if (input.forcePasswordChange && !hasPassword) throw invalid('"forcePasswordChange" needs a "password" or "passwordHash" to change');
  const second = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
  const since = second(input.since ?? now);
  const until = second(input.until ?? new Date(since.getTime() + DEFAULT_VALIDITY_DAYS * DAY_MS));
  if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime())) throw invalid('"since" and "until" must be valid times');
  if (until.getTime() <= since.getTime()) throw invalid(`"until" (${formatRfc3339(until)}) must be after "since" (${formatRfc3339(since)})`);
  if (until.getTime() <= now.getTime()) throw invalid(`"until" (${formatRfc3339(until)}) is in the past: devices would refuse the assertion`);
  return { since, until, name, models, serials, sshKeys };
}

/**
 * system-user assertions: a brand's permit for a local account (a factory
 * service account) on its devices, signed with the brand's models key and
 * kept with every re-issue as a new revision. snapd looks one up by the
 * model's brand and the email, so brand-id is the brand that signs.
 */
export class SystemUserService {
  private readonly models: ModelRepository;
  private readonly assertions: AssertionStore;

  constructor(
    private readonly db: Database,
    private readonly custody: Custody,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.models = new ModelRepository(db);
    this.assertions = new AssertionStore(db);
  }

  /** Signs a system-user (the next revision when the brand already has one for the email) and stores it with its audit record. */
  async create(input: SystemUserInput, actor: Actor = OPERATOR_ACTOR): Promise<Assertion<SystemUserView>> {
    const brand = await this.brand(input.brand);
    const checked = checkInput(input, this.clock());
    const series = new Set<string>();
    for (const name of checked.models) {
      const model = await this.models.find(brand.accountId, name);
      if (!model) throw new ProvisioningError('ERR_MODEL_UNKNOWN', `"models": brand "${brand.accountId}" has no model "${name}" in this vault`);
      const modelSeries = (await this.models.assertion(model)).headerString('series');
      if (modelSeries) series.add(modelSeries);
    }
    const password = input.password !== undefined ? sha512Crypt(input.password) : input.passwordHash;
    const headers: Record<string, HeaderValue> = {
      type: 'system-user',
      'authority-id': brand.accountId,
      'brand-id': brand.accountId,
      email: input.email,
      // snapd's rule: serials came with format 1.
      ...(checked.serials.length > 0 ? { format: '1', serials: checked.serials } : {}),
      ...(series.size > 0 ? { series: [...series] } : {}),
      models: checked.models,
      name: checked.name,
      username: input.username,
      ...(password !== undefined ? { password } : {}),
      ...(input.forcePasswordChange ? { 'force-password-change': 'true' } : {}),
      ...(checked.sshKeys.length > 0 ? { 'ssh-keys': checked.sshKeys } : {}),
      since: formatRfc3339(checked.since),
      until: formatRfc3339(checked.until),
    };
    for (let attempt = 1; ; attempt++) {
      const previous = await this.find(brand.accountId, input.email);
      const key = await this.custody.brandKey(brand, undefined, 'models');
      const signed = await this.sign(key, { ...headers, ...(previous ? { revision: String(previous.revision + 1) } : {}) });
      const outcome = await new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
        const store = new AssertionStore(trx);
        // Another re-issue, or a rotation or revocation of the key, since we read: sign again with what holds now.
        if ((await store.get('system-user', [brand.accountId, input.email]))?.revision !== previous?.revision) return 'reissued' as const;
        const [current] = await new SigningKeyRepository(trx).byIds([key.id]);
        if (!current || !usableAt(current, this.clock())) return 'key-changed' as const;
        await store.put(signed, {}, trx);
        await record({
          action: 'system-user.create',
          targetType: 'system-user',
          targetId: `${brand.accountId}/${input.email}`,
          storeId: brand.accountId,
          before: previous ? auditView(previous) : null,
          after: { ...auditView(signed), signingKey: key.keyId },
        });
        return signed;
      });
      if (typeof outcome !== 'string') return outcome;
      if (attempt >= SIGN_ATTEMPTS) {
        throw outcome === 'reissued'
          ? new ProvisioningError('ERR_TEMPORARILY_UNAVAILABLE', `system-user ${brand.accountId}/${input.email} was re-issued by someone else while it was signed, ${SIGN_ATTEMPTS} times: try again`)
          : new CustodyError('ERR_SIGNING_KEY_UNUSABLE', `key "${key.label}" stopped signing (rotated or revoked) while the system-user was signed: try again`);
      }
    }
  }

  /** The latest revision for the brand and email. */
  async get(brandId: string, email: string): Promise<Assertion<SystemUserView>> {
    const brand = await this.brand(brandId);
    const found = await this.find(brand.accountId, email);
    if (!found) throw new ProvisioningError('ERR_SYSTEM_USER_UNKNOWN', `brand "${brand.accountId}" has issued no system-user for "${email}"`);
    return found;
  }

  /** Every system-user of the brand, latest revisions, by email. */
  async list(brandId: string): Promise<Array<Assertion<SystemUserView>>> {
    const brand = await this.brand(brandId);
    // Account ids hold no LIKE wildcards; the brand is checked on each assertion all the same.
    const rows = (await this.db('assertions').where({ type: 'system-user' }).andWhere('primary_key', 'like', `${brand.accountId}/%`).select('id')) as Array<{ id: number }>;
    const all = await Promise.all(rows.map((r) => this.assertions.byId(r.id)));
    return all
      .filter((a): a is Assertion<SystemUserView> => a !== undefined && a.is('system-user') && a.view.brandId === brand.accountId)
      .sort((a, b) => (a.view.email < b.view.email ? -1 : a.view.email > b.view.email ? 1 : 0));
  }

  private async brand(accountId: string): Promise<Brand> {
    const brand = await this.custody.brands.byAccountId(accountId);
    if (!brand) throw new CatalogError('ERR_MODEL_BRAND_UNKNOWN', `brand "${accountId}" is not set up in this vault`);
    return brand;
  }

  private async find(brandId: string, email: string): Promise<Assertion<SystemUserView> | undefined> {
    const a = await this.assertions.get('system-user', [brandId, email]);
    return a?.is('system-user') ? a : undefined;
  }

  /** Signs in the HSM, then checks what devices will check: the key may sign system-users, and the result verifies through the brand's chain. */
  private async sign(key: SigningKeyRecord, headers: Record<string, HeaderValue>): Promise<Assertion<SystemUserView>> {
    const accountKey = await this.custody.assertions.get('account-key', [key.keyId]);
    if (accountKey && !constraintsAllow(accountKey, ['system-user'])) {
      throw new CustodyError('ERR_ACCOUNT_KEY_CONSTRAINED', `the account-key of key "${key.label}" does not let it sign system-user assertions, so devices would refuse them: register a models key whose constraints allow system-user`);
    }
    let signed: Assertion;
    try {
      signed = await signAssertion(headers, undefined, await this.custody.signerFor(key.label), { signedAt: this.clock() });
    } catch (e) {
      // Our own checks ran first: this is a rule of snapd's we did not foresee, in its own words.
      if (e instanceof AssertionError) throw invalid(`${e.message} [${e.code}]`);
      throw e;
    }
    const verdict = (await this.custody.trust()).check(signed);
    if (!verdict.ok) throw new CustodyError('ERR_ASSERTION_UNTRUSTED', `the system-user signed with key "${key.label}" does not verify through the brand's chain: ${verdict.error.message}`);
    return signed as Assertion<SystemUserView>;
  }
}

/** What the audit log keeps of a system-user: never the password nor its hash, only whether there is one. */
function auditView(a: Assertion<SystemUserView>) {
  const v = a.view;
  return { revision: a.revision, username: v.username, name: v.name, models: v.models, serials: v.serials, sshKeys: v.sshKeys.length, password: v.password !== '', forcePasswordChange: v.forcePasswordChange, since: formatRfc3339(v.since), until: formatRfc3339(v.until) };
}

/** What people read of a system-user: everything but its keys and password hash. */
export interface SystemUserSummary {
  readonly email: string;
  readonly username: string;
  readonly name: string;
  readonly revision: number;
  readonly models: string[];
  readonly serials: string[];
  /** How many ssh keys it carries. */
  readonly sshKeys: number;
  /** Whether it carries a password (never the hash). */
  readonly password: boolean;
  readonly forcePasswordChange: boolean;
  readonly since: string;
  readonly until: string;
}

export function systemUserSummary(a: Assertion<SystemUserView>): SystemUserSummary {
  const v = a.view;
  return {
    email: v.email,
    username: v.username,
    name: v.name,
    revision: a.revision,
    models: [...v.models],
    serials: [...v.serials],
    sshKeys: v.sshKeys.length,
    password: v.password !== '',
    forcePasswordChange: v.forcePasswordChange,
    since: formatRfc3339(v.since),
    until: formatRfc3339(v.until),
  };
}
