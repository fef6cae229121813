import { formatRfc3339, nextRevisionHeaders, signAssertion, type Assertion, type HeaderValue, type Signer, type TrustDatabase } from '../assertions/index.js';
import type { Brand, BrandRepository } from '../accounts/brands.js';
import type { Actor, Change } from '../audit/unit-of-work.js';
import type { AssertionStore } from '../db/assertion-store.js';
import type { KeyStore } from '../keystore/keystore.js';
import { CustodyError } from './errors.js';
import { keyStateAt, usableAt } from './key-state.js';
import { rootLabel, type KeyPurpose, type SigningKeyRecord, type SigningKeyRepository } from './signing-keys.js';

/** The repositories a unit of work hands its work, bound to its transaction. */
export interface UnitRepos {
  readonly brands: BrandRepository;
  readonly keys: SigningKeyRepository;
  readonly assertions: AssertionStore;
}

/** What the lifecycle needs of custody (custody.ts builds one and hands itself in). */
export interface LifecycleCustody {
  readonly brands: BrandRepository;
  readonly keys: SigningKeyRepository;
  readonly assertions: AssertionStore;
  /** Whether this instance's HSM holds the key (an appliance's keys are registered on central too). */
  holds(key: SigningKeyRecord): boolean;
  trust(): Promise<TrustDatabase>;
  trustSetup(brand: Brand): Promise<{ setup: 'local'; authorityId: string } | { setup: 'canonical' }>;
  signerFor(label: string): Promise<Signer & { readonly key: { keyId: string } }>;
  inUnit<T>(actor: Actor, work: (r: UnitRepos, record: (change: Change) => Promise<void>) => Promise<T>): Promise<T>;
}

/** What each purpose's key signs: an account-key's constraints must allow it. */
const SIGNS: Partial<Record<KeyPurpose, readonly string[]>> = {
  serials: ['serial'],
  models: ['model'],
  store: ['snap-declaration', 'snap-revision'],
};

/** Whole seconds: account-key windows and serial timestamps are RFC 3339 to the second. */
const ceilSecond = (d: Date) => new Date(Math.ceil(d.getTime() / 1000) * 1000);
const floorSecond = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);

/**
 * Whether an account-key's `constraints` (format 1) let it sign every one of
 * `types`, read as snapd reads them: a list of maps, each with `headers`
 * naming a `type` as a plain string (never a pattern). A constraint that
 * also names other headers still lets the key sign some assertions of its
 * type. Malformed constraints allow nothing: snapd refuses such a key.
 */
export function constraintsAllow(accountKey: Assertion, types: readonly string[]): boolean {
  const constraints = accountKey.header('constraints');
  if (constraints === undefined) return true;
  if (!Array.isArray(constraints) || constraints.length === 0) return false;
  const allowed = new Set<string>();
  for (const c of constraints) {
    if (typeof c !== 'object' || Array.isArray(c)) return false;
    const headers = (c as Record<string, HeaderValue>)['headers'];
    if (typeof headers !== 'object' || Array.isArray(headers)) return false;
    const type = (headers as Record<string, HeaderValue>)['type'];
    if (typeof type !== 'string' || /[\\^$.|?*+()[\]{}]/.test(type)) return false;
    allowed.add(type);
  }
  return types.every((t) => allowed.has(t));
}

export interface NewKeyResult {
  readonly key: SigningKeyRecord;
  /** Local trust: the account-key the authority signed. */
  readonly accountKey?: Assertion;
  /** Canonical trust: the request to submit to Canonical (`snapcraft register-key` sends the same). */
  readonly accountKeyRequest?: Assertion;
}

/**
 * A key's life: made in the HSM for a purpose, registered (the local
 * authority signs its account-key at once; in the canonical setup it waits
 * for Canonical's), rotated, revoked, destroyed. Every step is one unit of
 * work with its audit record; guarded steps reach here only through an
 * executed ceremony (ceremonies.ts).
 */
export class KeyLifecycle {
  constructor(
    private readonly custody: LifecycleCustody,
    private readonly keystore: KeyStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The key in use for `purpose` that a rotation replaces: the one labelled so, or the brand's only one. */
  async current(brand: Brand, purpose: KeyPurpose, label?: string): Promise<SigningKeyRecord> {
    const keys = (await this.custody.keys.ofBrand(brand.id)).filter((k) => k.purpose === purpose && (label !== undefined || this.custody.holds(k)));
    if (label !== undefined) {
      const key = keys.find((k) => k.label === label);
      if (!key) throw new CustodyError('ERR_SIGNING_KEY_UNKNOWN', `brand "${brand.accountId}" has no ${purpose} key "${label}": serial-vault key states --brand ${brand.accountId} lists them`);
      return key;
    }
    const now = this.clock();
    const inUse = keys.filter((k) => !k.replacedBy && usableAt(k, now));
    if (inUse.length === 1) return inUse[0]!;
    if (inUse.length === 0) {
      const last = keys[keys.length - 1];
      if (!last) throw new CustodyError('ERR_SIGNING_KEY_UNKNOWN', `brand "${brand.accountId}" has no ${purpose} key`);
      return last;
    }
    throw new CustodyError('ERR_SIGNING_KEY_UNKNOWN', `brand "${brand.accountId}" has ${inUse.length} ${purpose} keys in use: name one with --key (${inUse.map((k) => k.label).join(', ')})`);
  }

  /**
   * The next name (`serials`, `serials-2`, …) that no key of the brand, no
   * account-key of its account and no HSM label already has: account-key
   * names are unique per account (snapd and Canonical refuse a second).
   */
  private async freshName(brand: Brand, purpose: KeyPurpose): Promise<{ name: string; label: string }> {
    const taken = new Set((await this.custody.keys.ofBrand(brand.id)).map((k) => k.name));
    for (const a of (await this.custody.trust()).findMany('account-key', { 'account-id': brand.accountId })) taken.add(a.headerString('name'));
    const labels = new Set((await this.custody.keys.all()).map((k) => k.label));
    for (let n = 1; ; n++) {
      const name = n === 1 ? purpose : `${purpose}-${n}`;
      const label = `brand-${brand.accountId}-${name}`;
      // A label already on the token (a set-up cut short, another tool) is never adopted.
      if (!taken.has(name) && !labels.has(label) && !(await this.keystore.find(label))) return { name, label };
    }
  }

  /** Makes a key for `purpose` in the HSM and registers it (see NewKeyResult); `since` schedules it. */
  async create(brand: Brand, purpose: KeyPurpose, actor: Actor, options: { since?: Date; replaces?: SigningKeyRecord; token?: string } = {}): Promise<NewKeyResult> {
    if (purpose === 'root' || purpose === 'audit' || purpose === 'appliance') {
      throw new CustodyError('ERR_KEY_PURPOSE_INVALID', `a brand key is for serials, models or store, not ${purpose}`);
    }
    const { name, label } = await this.freshName(brand, purpose);
    const setup = await this.custody.trustSetup(brand);
    if (options.token) {
      const tokens = this.keystore.tokens?.() ?? [];
      if (!tokens.some((t) => t.label === options.token)) {
        throw new CustodyError('ERR_HSM_TOKEN_UNKNOWN', `no HSM token "${options.token}"${tokens.length > 0 ? `: the vault has ${tokens.map((t) => `"${t.label}"`).join(', ')}` : ': the vault has one token (hsm.tokens in the configuration adds more)'}`);
      }
    }
    const info = options.token ? await this.keystore.generateOn!(options.token, label) : await this.keystore.generate(label);
    // Whole seconds, like the serial timestamps: a rotation takes over at the next second after the key
    // exists (the old key keeps signing meanwhile, its serials stamped before it), or at its set time.
    const now = this.clock();
    const since = options.replaces ? ceilSecond(options.since && options.since > now ? options.since : now) : floorSecond(now);
    const signer = await this.custody.signerFor(label);
    const body = Buffer.from(signer.publicKey.encoded);
    const headers = { 'account-id': brand.accountId, name, since: formatRfc3339(since), 'public-key-sha3-384': info.keyId };
    let accountKey: Assertion | undefined;
    let request: Assertion | undefined;
    if (setup.setup === 'local') {
      const root = await this.custody.signerFor(rootLabel(setup.authorityId));
      accountKey = await signAssertion({ type: 'account-key', 'authority-id': setup.authorityId, ...headers }, body, root);
    } else {
      request = await signAssertion({ type: 'account-key-request', ...headers }, body, signer);
    }
    const key = await this.custody.inUnit(actor, async (r, audit) => {
      // Checked again inside the unit: two changes at once cannot both take the name, or both replace one key.
      if (await r.keys.byLabel(label)) throw new CustodyError('ERR_KEY_CONFLICT', `another change made key "${label}" at the same time: run it again`);
      if (options.replaces) this.checkRotatable((await r.keys.byId(options.replaces.id))!);
      if (accountKey) await r.assertions.put(accountKey);
      const made = await r.keys.add({
        label,
        keyId: info.keyId,
        purpose,
        brandId: brand.id,
        name,
        state: accountKey ? 'active' : 'pending',
        since: formatRfc3339(since),
        ...(request ? { accountKeyRequest: request.encode().toString('utf8') } : {}),
      });
      if (options.replaces && accountKey) {
        await r.keys.update(options.replaces.id, { until: formatRfc3339(since), replacedBy: made.id });
      } else if (options.replaces) {
        // Canonical trust: the old key hands over once Canonical's account-key is imported.
        await r.keys.update(options.replaces.id, { replacedBy: made.id });
      }
      await audit({
        action: options.replaces ? 'key.rotate' : 'key.create',
        targetType: 'key',
        targetId: label,
        storeId: brand.accountId,
        before: options.replaces ? { key: options.replaces.label, keyId: options.replaces.keyId } : null,
        after: { keyId: info.keyId, purpose, name, since: formatRfc3339(since), state: made.state, setup: setup.setup },
      });
      return made;
    });
    return { key, ...(accountKey ? { accountKey } : {}), ...(request ? { accountKeyRequest: request } : {}) };
  }

  /** Only a key in use, not already being replaced, can be rotated. */
  checkRotatable(key: SigningKeyRecord): void {
    const state = keyStateAt(key, this.clock());
    if (state !== 'active' || key.replacedBy !== undefined) {
      throw new CustodyError('ERR_KEY_NOT_ACTIVE', `key "${key.label}" is ${state === 'active' ? 'already being replaced by a pending key' : state}: only a key in use can be rotated`);
    }
  }

  /** A new key takes over from the one in use, from `at` (now by default); what the old key signed keeps verifying. */
  async rotate(brand: Brand, purpose: KeyPurpose, actor: Actor, options: { label?: string; at?: Date } = {}): Promise<NewKeyResult & { replaced: SigningKeyRecord }> {
    const old = await this.current(brand, purpose, options.label);
    this.checkRotatable(old);
    return { ...(await this.create(brand, purpose, actor, { ...(options.at ? { since: options.at } : {}), replaces: old })), replaced: old };
  }

  /**
   * Stops every use of a key at once. In the local setup the authority
   * re-issues its account-key with `until`, so devices and `snap ack`
   * refuse what it signs from then on; in the canonical setup Canonical
   * must revoke it, and the vault only stops using it.
   */
  async revoke(label: string, actor: Actor): Promise<{ key: SigningKeyRecord; accountKey?: Assertion }> {
    const key = await this.custody.keys.byLabel(label);
    if (!key || key.purpose === 'root') throw new CustodyError('ERR_SIGNING_KEY_UNKNOWN', `no brand key "${label}" in the vault: serial-vault key states lists them`);
    if (key.state === 'revoked') throw new CustodyError('ERR_KEY_NOT_ACTIVE', `key "${label}" is already revoked`);
    const brand = key.brandId !== undefined ? await this.custody.brands.byId(key.brandId) : undefined;
    // Never before its own start: a key scheduled by a rotation may be revoked before it begins (the codec, like snapd, refuses until < since).
    const until = formatRfc3339(new Date(Math.max(ceilSecond(this.clock()).getTime(), Date.parse(key.since))));
    let reissued: Assertion | undefined;
    const setup = brand ? await this.custody.trustSetup(brand) : { setup: 'canonical' as const };
    const current = await this.custody.assertions.get('account-key', [key.keyId]);
    if (setup.setup === 'local' && current) {
      reissued = await signAssertion(nextRevisionHeaders(current, { until }), current.body, await this.custody.signerFor(rootLabel(setup.authorityId)));
    }
    const revoked = await this.custody.inUnit(actor, async (r, audit) => {
      if (reissued) await r.assertions.put(reissued);
      await r.keys.update(key.id, { state: 'revoked', revokedAt: formatRfc3339(ceilSecond(this.clock())), until });
      // A successor revoked before it took over: the key it was to replace goes on signing.
      const predecessor = brand ? (await r.keys.ofBrand(brand.id)).find((k) => k.replacedBy === key.id) : undefined;
      if (predecessor) await r.keys.update(predecessor.id, { until: null, replacedBy: null });
      await audit({
        action: 'key.revoke',
        targetType: 'key',
        targetId: label,
        storeId: brand?.accountId ?? null,
        before: { state: key.state, until: key.until ?? null },
        after: { state: 'revoked', until, accountKeyReissued: reissued !== undefined, setup: setup.setup, ...(predecessor ? { keeps: predecessor.label } : {}) },
      });
      return (await r.keys.byId(key.id))!;
    });
    return { key: revoked, ...(reissued ? { accountKey: reissued } : {}) };
  }

  /** Removes a revoked key's private half from the HSM; its record and account-key stay, for what it signed. */
  async destroy(label: string, actor: Actor): Promise<void> {
    const key = await this.custody.keys.byLabel(label);
    if (!key || key.purpose === 'root') throw new CustodyError('ERR_SIGNING_KEY_UNKNOWN', `no brand key "${label}" in the vault`);
    if (key.state !== 'revoked') throw new CustodyError('ERR_KEY_NOT_ACTIVE', `key "${label}" is ${keyStateAt(key, this.clock())}: revoke it before destroying it`);
    const brand = key.brandId !== undefined ? await this.custody.brands.byId(key.brandId) : undefined;
    // Destroyed inside the unit: a key the HSM would not destroy leaves no record saying it was.
    await this.custody.inUnit(actor, async (_r, audit) => {
      await audit({ action: 'key.destroy', targetType: 'key', targetId: label, storeId: brand?.accountId ?? null, before: { keyId: key.keyId }, after: null });
      if (await this.keystore.find(label)) await this.keystore.destroy(label);
    });
  }

  /**
   * Activates a pending key with the account-key Canonical signed for it,
   * after checking it is for this key, this brand and this purpose
   * (serial-vault #220: a key of the wrong account failed silently on devices).
   */
  async importAccountKey(accountKey: Assertion, actor: Actor): Promise<SigningKeyRecord> {
    if (!accountKey.is('account-key')) throw new CustodyError('ERR_ASSERTION_UNEXPECTED', `expected an account-key assertion, got ${accountKey.type}`);
    const { publicKeyId, accountId } = accountKey.view;
    const key = await this.custody.keys.byKeyId(publicKeyId);
    if (!key || key.brandId === undefined) {
      throw new CustodyError('ERR_ACCOUNT_KEY_OTHER_KEY', `the account-key registers key ${publicKeyId}, which is not a key of this vault: import the account-key made for a request this vault wrote (serial-vault key states lists them)`);
    }
    const brand = await this.custody.brands.byId(key.brandId);
    if (!brand || brand.accountId !== accountId) {
      throw new CustodyError('ERR_ACCOUNT_KEY_OTHER_BRAND', `the account-key is for account "${accountId}", but key "${key.label}" belongs to brand "${brand?.accountId ?? '?'}": a model or serial it signed would fail on devices`);
    }
    if (key.state !== 'pending') throw new CustodyError('ERR_KEY_NOT_PENDING', `key "${key.label}" is ${keyStateAt(key, this.clock())}, not awaiting an account-key`);
    const [checked] = (await this.custody.trust()).addBatch([accountKey]);
    if (checked?.error) throw new CustodyError('ERR_ASSERTION_UNTRUSTED', `cannot import ${accountKey.ref}: ${checked.error.message}`);
    const types = SIGNS[key.purpose] ?? [];
    if (!constraintsAllow(accountKey, types)) {
      throw new CustodyError('ERR_ACCOUNT_KEY_CONSTRAINED', `the account-key's constraints do not let key "${key.label}" sign ${types.join(' and ')} assertions, which is what its purpose (${key.purpose}) needs`);
    }
    const now = this.clock();
    // From this second (serial timestamps are whole seconds, rounded down), or later when the account-key or a rotation says so.
    const since = new Date(Math.max(floorSecond(now).getTime(), accountKey.view.since.getTime(), Date.parse(key.since)));
    // Canonical may register the key for a limited time: the vault stops signing with it then.
    const until = accountKey.view.until ? formatRfc3339(accountKey.view.until) : null;
    const replaced = (await this.custody.keys.ofBrand(brand.id)).find((k) => k.replacedBy === key.id);
    return this.custody.inUnit(actor, async (r, audit) => {
      await r.assertions.put(accountKey);
      await r.keys.update(key.id, { state: 'active', since: formatRfc3339(since), until, accountKeyRequest: null });
      if (replaced) await r.keys.update(replaced.id, { until: formatRfc3339(since) });
      await audit({
        action: 'key.activate',
        targetType: 'key',
        targetId: key.label,
        storeId: brand.accountId,
        before: { state: 'pending' },
        after: { state: 'active', since: formatRfc3339(since), signedBy: accountKey.authorityId, ...(replaced ? { replaces: replaced.label } : {}) },
      });
      return (await r.keys.byId(key.id))!;
    });
  }
}
