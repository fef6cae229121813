import { TrustDatabase, formatRfc3339, signAssertion, type Assertion, type Signer } from '../assertions/index.js';
import { OPERATOR_ACTOR, type Actor } from '../audit/unit-of-work.js';
import { CustodyError } from './errors.js';
import type { LifecycleCustody } from './key-lifecycle.js';
import { rootLabel, type SigningKeyRecord } from './signing-keys.js';

/** What the authorities need of custody (custody.ts builds them and hands itself in). */
export interface AuthorityCustody extends Pick<LifecycleCustody, 'keys' | 'trust' | 'signerFor' | 'inUnit'> {
  ensureKey(label: string): Promise<{ keyId: string }>;
}

/**
 * The roots this vault trusts and the authorities it runs: a local root
 * made in the HSM (development and air-gapped demos), Canonical's root
 * imported for production brands, a local authority's store key, and the
 * `store` assertions a trusted root signed. Nothing goes in that a device
 * would reject.
 */
export class Authorities {
  constructor(
    private readonly custody: AuthorityCustody,
    private readonly clock: () => Date,
  ) {}

  /**
   * Creates a local root authority: a key in the HSM that signs its own
   * account and account-key, trusted by this vault (and by devices only if
   * they are built to trust it, as snapd's test root is).
   */
  async createAuthority(accountId: string, displayName: string, actor: Actor = OPERATOR_ACTOR): Promise<{ account: Assertion; accountKey: Assertion; key: SigningKeyRecord }> {
    const label = rootLabel(accountId);
    const key = await this.custody.ensureKey(label);
    const signer = await this.custody.signerFor(label);
    const timestamp = formatRfc3339(this.clock());
    const account = await signAssertion(
      { type: 'account', 'authority-id': accountId, 'account-id': accountId, 'display-name': displayName, validation: 'verified', timestamp },
      undefined,
      signer,
    );
    const accountKey = await signAssertion(
      { type: 'account-key', 'authority-id': accountId, 'account-id': accountId, name: 'root', since: timestamp, 'public-key-sha3-384': key.keyId },
      Buffer.from(signer.publicKey.encoded),
      signer,
    );
    const record = await this.custody.inUnit(actor, async (r, audit) => {
      await r.assertions.put(account, { trusted: true });
      await r.assertions.put(accountKey, { trusted: true });
      const registered = await r.keys.add({ label, keyId: key.keyId, purpose: 'root', name: 'root', since: timestamp });
      await audit({ action: 'authority.create', targetType: 'authority', targetId: accountId, storeId: null, before: null, after: { displayName, keyId: key.keyId, label } });
      return registered;
    });
    return { account, accountKey, key: record };
  }

  /**
   * The signer a local authority uses for snap-declarations and
   * snap-revisions: a key of its own (label `store-AUTHORITY`), registered
   * with an account-key named `store` signed by the root, made on first use.
   */
  async storeSigner(authorityId: string, actor: Actor = OPERATOR_ACTOR): Promise<Signer & { readonly key: { keyId: string } }> {
    const label = `store-${authorityId}`;
    if (!(await this.custody.keys.byLabel(label))) {
      const root = await this.custody.keys.rootOf(authorityId);
      if (!root) throw new CustodyError('ERR_AUTHORITY_UNKNOWN', `no local authority "${authorityId}"`);
      const key = await this.custody.ensureKey(label);
      const signer = await this.custody.signerFor(label);
      const accountKey = await signAssertion(
        { type: 'account-key', 'authority-id': authorityId, 'account-id': authorityId, name: 'store', since: formatRfc3339(this.clock()), 'public-key-sha3-384': key.keyId },
        Buffer.from(signer.publicKey.encoded),
        await this.custody.signerFor(root.label),
      );
      await this.custody.inUnit(actor, async (r, audit) => {
        if (await r.keys.byLabel(label)) return;
        await r.assertions.put(accountKey);
        await r.keys.add({ label, keyId: key.keyId, purpose: 'store', name: 'store' });
        await audit({ action: 'authority.store-key.create', targetType: 'authority', targetId: authorityId, storeId: null, before: null, after: { keyId: key.keyId, label } });
      });
    }
    return this.custody.signerFor(label);
  }

  /**
   * Adds a root that this vault trusts (Canonical's account and root
   * account-key for production brands): both self-signed by the root.
   */
  async trustRoot(account: Assertion, accountKey: Assertion, actor: Actor = OPERATOR_ACTOR): Promise<void> {
    if (!account.is('account') || !accountKey.is('account-key')) throw new CustodyError('ERR_ROOT_INVALID', 'a root is an account and an account-key assertion');
    const id = account.view.accountId;
    if (account.authorityId !== id || accountKey.authorityId !== id || accountKey.view.accountId !== id) {
      throw new CustodyError('ERR_ROOT_INVALID', `a root signs itself: the account and account-key of "${id}" must both have authority-id "${id}"`);
    }
    const check = new TrustDatabase({ trusted: [account, accountKey], now: this.clock });
    for (const a of [account, accountKey]) {
      const verdict = check.check(a);
      if (!verdict.ok) throw new CustodyError('ERR_ROOT_INVALID', `${a.ref} does not verify with the key it registers: ${verdict.error.message}`);
    }
    await this.custody.inUnit(actor, async (r, audit) => {
      await r.assertions.put(account, { trusted: true });
      await r.assertions.put(accountKey, { trusted: true });
      await audit({ action: 'authority.trust', targetType: 'authority', targetId: id, storeId: null, before: null, after: { keyId: accountKey.view.publicKeyId } });
    });
  }

  /**
   * Keeps a `store` assertion a trusted root signed (Canonical's for a brand
   * store in the canonical setup), which the store listener then serves at
   * `v2/assertions/store/<id>`. One that does not verify is refused: a
   * device would reject it and fail every install (STORE.md §4.2).
   */
  async importStoreAssertion(store: Assertion, chain: readonly Assertion[] = [], actor: Actor = OPERATOR_ACTOR): Promise<void> {
    if (!store.is('store')) throw new CustodyError('ERR_ASSERTION_UNEXPECTED', `expected a store assertion, got ${store.type}`);
    const trust = await this.custody.trust();
    trust.addBatch(chain);
    const verdict = trust.check(store);
    if (!verdict.ok) throw new CustodyError('ERR_ASSERTION_UNTRUSTED', `store assertion "${store.view.store}" does not verify against the trusted roots: ${verdict.error.message}`);
    if (!trust.isTrustedAccount(store.authorityId)) throw new CustodyError('ERR_ASSERTION_UNTRUSTED', `store assertion "${store.view.store}" is signed by "${store.authorityId}", not by a trusted root: a device would reject it`);
    await this.custody.inUnit(actor, async (r, audit) => {
      for (const a of chain) if (a.is('account')) await r.assertions.put(a);
      await r.assertions.put(store);
      await audit({ action: 'store.assertion.import', targetType: 'store', targetId: store.view.store, storeId: null, before: null, after: { authorityId: store.authorityId, url: store.view.url || null } });
    });
  }
}
