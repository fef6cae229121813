import {
  TrustDatabase,
  formatRfc3339,
  signAssertion,
  type Assertion,
  type Signer,
} from '../assertions/index.js';
import { BrandRepository, checkBrandIdentity, type Brand } from '../accounts/brands.js';
import { AssertionStore } from '../db/assertion-store.js';
import { ShortCache } from '../db/short-cache.js';
import type { Database } from '../db/database.js';
import { keyStoreSigner, type KeyStore } from '../keystore/keystore.js';
import { OPERATOR_ACTOR, UnitOfWork, type Actor, type Change } from '../audit/unit-of-work.js';
import { CustodyError } from './errors.js';
import { SigningKeyRepository, type SigningKeyRecord } from './signing-keys.js';
import { keyInUse, keyStateAt, usableAt } from './key-state.js';
import { KeyLifecycle, type UnitRepos } from './key-lifecycle.js';
import { Authorities } from './authorities.js';

/** Another process (the command line) may re-issue an account-key: a cached chain is read again after this long. */
const CHAIN_CACHE_MS = 5000;

/**
 * Key custody: local root authorities (development and air-gapped demos),
 * brand accounts with their keys in the HSM, the trust chains that tie
 * them to a trusted root, and signers for a brand's keys. Every assertion
 * that goes in is checked against the trusted roots first.
 */
export class Custody {
  readonly brands: BrandRepository;
  readonly keys: SigningKeyRepository;
  readonly assertions: AssertionStore;
  /** Keys made, rotated, revoked and activated (key-lifecycle.ts). */
  readonly lifecycle: KeyLifecycle;
  /** Root authorities: local ones made here, trusted ones imported, their store keys and store assertions (authorities.ts). */
  readonly authorities: Authorities;
  private readonly chains = new ShortCache(CHAIN_CACHE_MS);

  /** On an appliance, its name: its HSM holds the keys `held_by` it, and the authority's keys (root, store) are central's. */
  private holder: string | undefined;

  get appliance(): string | undefined {
    return this.holder;
  }

  /** Whether this instance's HSM holds the key's private half (an appliance's keys are registered on central too). */
  holds(key: SigningKeyRecord): boolean {
    return key.heldBy === this.holder;
  }

  /** Set once on an appliance, before anything signs. */
  holdKeysAs(appliance: string): void {
    this.holder = appliance;
  }

  constructor(
    private readonly db: Database,
    private readonly keystore: KeyStore,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.brands = new BrandRepository(db);
    this.keys = new SigningKeyRepository(db);
    this.assertions = new AssertionStore(db);
    this.lifecycle = new KeyLifecycle(this, keystore, clock);
    this.authorities = new Authorities(this, clock);
  }

  /**
   * Writes that belong together, in one transaction: a set-up stopped at any
   * point (a crash, kill -9) leaves all of them or none, so it can be run again.
   */
  inUnit<T>(
    actor: Actor,
    work: (r: UnitRepos, record: (change: Change) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const done = new UnitOfWork(this.db, this.clock).run(actor, (trx, record) =>
      work({ brands: new BrandRepository(trx), keys: new SigningKeyRepository(trx), assertions: new AssertionStore(trx) }, record),
    );
    // The one place chains change: whatever was cached may be stale now.
    return done.finally(() => this.chains.clear());
  }

  /** A trust database with the stored roots and every stored account chain. */
  async trust(): Promise<TrustDatabase> {
    const db = new TrustDatabase({ trusted: await this.assertions.trusted(), now: this.clock });
    db.addBatch(await this.assertions.chains());
    return db;
  }

  /** A signer for the HSM key with this label. */
  async signerFor(label: string): Promise<Signer & { readonly key: { keyId: string } }> {
    return keyStoreSigner(this.keystore, label);
  }

  /** The HSM key with this label, made if there is none yet. */
  async ensureKey(label: string): Promise<{ keyId: string }> {
    return (await this.keystore.find(label)) ?? (await this.keystore.generate(label));
  }

  /** The trusted roots as one stream, to give devices and tests. */
  async exportTrusted(): Promise<Assertion[]> {
    return this.assertions.trusted();
  }

  /**
   * Creates a brand signed by a local authority: its account, a key in the
   * HSM and that key's account-key (name `serials`).
   */
  async createBrand(accountId: string, displayName: string, authorityId: string, actor: Actor = OPERATOR_ACTOR): Promise<{ brand: Brand; key: SigningKeyRecord; account: Assertion; accountKey: Assertion }> {
    checkBrandIdentity(accountId, displayName); // before any key is made in the HSM
    const root = await this.keys.rootOf(authorityId);
    if (!root) throw new CustodyError('ERR_AUTHORITY_UNKNOWN', `no local authority "${authorityId}": create it with "serial-vault authority create"`);
    if (await this.brands.byAccountId(accountId)) throw new CustodyError('ERR_BRAND_EXISTS', `brand "${accountId}" already exists`);
    const rootSigner = await this.signerFor(root.label);
    const timestamp = formatRfc3339(this.clock());
    const account = await signAssertion(
      { type: 'account', 'authority-id': authorityId, 'account-id': accountId, 'display-name': displayName, validation: 'verified', timestamp },
      undefined,
      rootSigner,
    );
    const label = `brand-${accountId}-serials`;
    const key = await this.ensureKey(label);
    const brandSigner = await this.signerFor(label);
    const accountKey = await signAssertion(
      { type: 'account-key', 'authority-id': authorityId, 'account-id': accountId, name: 'serials', since: timestamp, 'public-key-sha3-384': key.keyId },
      Buffer.from(brandSigner.publicKey.encoded),
      rootSigner,
    );
    return this.importBrand(account, accountKey, label, actor);
  }

  /**
   * Registers a brand from its account and account-key assertions (signed by
   * a trusted root: Canonical's for real devices), with the HSM key whose
   * public key the account-key registers.
   */
  async importBrand(account: Assertion, accountKey: Assertion, keyLabel: string, actor: Actor = OPERATOR_ACTOR): Promise<{ brand: Brand; key: SigningKeyRecord; account: Assertion; accountKey: Assertion }> {
    if (!account.is('account') || !accountKey.is('account-key')) throw new CustodyError('ERR_ASSERTION_UNEXPECTED', 'expected an account and an account-key assertion');
    if (accountKey.view.accountId !== account.view.accountId) {
      throw new CustodyError('ERR_KEY_MISMATCH', `the account-key is for "${accountKey.view.accountId}", not "${account.view.accountId}"`);
    }
    checkBrandIdentity(account.view.accountId, account.view.displayName);
    const trust = await this.trust();
    for (const r of trust.addBatch([account, accountKey])) {
      if (r.error) throw new CustodyError('ERR_ASSERTION_UNTRUSTED', `cannot import ${r.assertion.ref}: ${r.error.message}`);
    }
    const hsmKey = await this.keystore.find(keyLabel);
    if (!hsmKey) throw new CustodyError('ERR_HSM_KEY_MISSING', `no key "${keyLabel}" in the HSM`);
    if (hsmKey.keyId !== accountKey.view.publicKeyId) {
      throw new CustodyError('ERR_KEY_MISMATCH', `HSM key "${keyLabel}" (${hsmKey.keyId}) is not the key the account-key registers (${accountKey.view.publicKeyId})`);
    }
    const accountView = account.view;
    return this.inUnit(actor, async (r, audit) => {
      await r.assertions.put(account);
      await r.assertions.put(accountKey);
      const before = await r.brands.byAccountId(accountView.accountId);
      const brand = before ?? (await r.brands.create(accountView.accountId, accountView.displayName));
      const key = await r.keys.add({ label: keyLabel, keyId: hsmKey.keyId, purpose: 'serials', brandId: brand.id, name: accountKey.view.name || 'serials', since: formatRfc3339(accountKey.view.since) });
      await audit({
        action: before ? 'brand.key.add' : 'brand.create',
        targetType: 'brand',
        targetId: accountView.accountId,
        storeId: accountView.accountId,
        before: before ? { displayName: before.displayName } : null,
        after: { displayName: brand.displayName, keyId: key.keyId, label: key.label, signedBy: account.authorityId },
      });
      return { brand, key, account, accountKey };
    });
  }

  /**
   * Which trust setup a brand lives in: `local` when its account was signed
   * by one of this vault's own root authorities (the vault may sign what
   * devices check), `canonical` otherwise (the vault only imports what
   * Canonical signed and signs what Canonical delegated).
   */
  async trustSetup(brand: Brand): Promise<{ setup: 'local'; authorityId: string } | { setup: 'canonical' }> {
    const account = await this.assertions.get('account', [brand.accountId]);
    const authorityId = account?.authorityId;
    return authorityId !== undefined && (await this.keys.rootOf(authorityId)) ? { setup: 'local', authorityId } : { setup: 'canonical' };
  }

  /**
   * The brand key that signs for `purpose` now: the one labelled so, or the
   * brand's newest key of that purpose in use (keyInUse). A revoked,
   * pending or retired key is never given out to sign with.
   */
  async brandKey(brand: Brand, keyLabel?: string, purpose: 'serials' | 'models' = 'serials'): Promise<SigningKeyRecord> {
    const keys = (await this.keys.ofBrand(brand.id)).filter((k) => keyLabel !== undefined || this.holds(k));
    const now = this.clock();
    if (keyLabel) {
      const key = keys.find((k) => k.label === keyLabel);
      if (!key) throw new CustodyError('ERR_BRAND_KEY_UNKNOWN', `brand "${brand.accountId}" has no key "${keyLabel}"`);
      if (!usableAt(key, now)) throw new CustodyError('ERR_KEY_NOT_ACTIVE', `key "${keyLabel}" is ${keyStateAt(key, now)}: only a key in use signs`);
      return key;
    }
    const key = keyInUse(keys, purpose, now);
    if (!key) {
      throw new CustodyError(keys.length === 0 ? 'ERR_BRAND_KEY_UNKNOWN' : 'ERR_KEY_NOT_ACTIVE', keys.length === 0 ? `brand "${brand.accountId}" has no key in the vault` : `brand "${brand.accountId}" has no ${purpose} key in use: make one (serial-vault key create --brand ${brand.accountId} --purpose ${purpose})`);
    }
    return key;
  }

  /**
   * The account and account-key that chain a brand's serials to a trusted
   * root, read once per (brand, key) and kept: every serial answer carries
   * them. A change here clears the cache at once (`inUnit`); one made by another process shows within CHAIN_CACHE_MS.
   */
  brandChain(brandAccountId: string, signingKeyId: string): Promise<Assertion[]> {
    return this.chains.get(`${brandAccountId}\0${signingKeyId}`, async () => {
      const account = await this.assertions.get('account', [brandAccountId]);
      const accountKey = await this.assertions.get('account-key', [signingKeyId]);
      return [account, accountKey].filter((a): a is Assertion => a !== undefined);
    });
  }
}
