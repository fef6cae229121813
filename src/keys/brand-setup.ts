import {
  AssertionError,
  TrustDatabase,
  formatRfc3339,
  signAssertion,
  type Assertion,
  type HeaderValue,
  type Signer,
} from '../assertions/index.js';
import { BrandRepository, checkBrandIdentity, type Brand } from '../accounts/brands.js';
import { ModelRepository, checkSerialTemplate, type ModelRecord, type ModelSettings } from '../catalog/models.js';
import { AssertionStore } from '../db/assertion-store.js';
import type { Database } from '../db/database.js';
import { keyStoreSigner, type KeyStore } from '../keystore/keystore.js';
import { SigningKeyRepository, type SigningKeyRecord } from './signing-keys.js';

export class SetupError extends Error {
  override readonly name = 'SetupError';
  constructor(
    readonly code: 'ERR_NOT_FOUND' | 'ERR_CONFLICT' | 'ERR_INVALID' | 'ERR_UNTRUSTED',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Setting a brand up: local root authorities (development and air-gapped
 * demos), brand accounts with keys in the HSM, and models signed by them or
 * imported already signed. Every assertion that goes in is checked against
 * the trusted roots first.
 */
export class BrandSetup {
  readonly brands: BrandRepository;
  readonly models: ModelRepository;
  readonly keys: SigningKeyRepository;
  readonly assertions: AssertionStore;

  constructor(
    db: Database,
    private readonly keystore: KeyStore,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.brands = new BrandRepository(db);
    this.models = new ModelRepository(db);
    this.keys = new SigningKeyRepository(db);
    this.assertions = new AssertionStore(db);
  }

  /** A trust database with the stored roots and every stored account chain. */
  async trust(): Promise<TrustDatabase> {
    const db = new TrustDatabase({ trusted: await this.assertions.trusted(), now: this.clock });
    db.addBatch(await this.assertions.chains());
    return db;
  }

  private async signerFor(label: string): Promise<Signer & { readonly key: { keyId: string } }> {
    return keyStoreSigner(this.keystore, label);
  }

  private async ensureKey(label: string): Promise<{ keyId: string }> {
    return (await this.keystore.find(label)) ?? (await this.keystore.generate(label));
  }

  /**
   * Creates a local root authority: a key in the HSM that signs its own
   * account and account-key, trusted by this vault (and by devices only if
   * they are built to trust it, as snapd's test root is).
   */
  async createAuthority(accountId: string, displayName: string): Promise<{ account: Assertion; accountKey: Assertion; key: SigningKeyRecord }> {
    const label = `root-${accountId}`;
    const key = await this.ensureKey(label);
    const signer = await this.signerFor(label);
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
    await this.assertions.put(account, { trusted: true });
    await this.assertions.put(accountKey, { trusted: true });
    const record = await this.keys.register(label, key.keyId, 'root');
    return { account, accountKey, key: record };
  }

  /** The trusted roots as one stream, to give devices and tests. */
  async exportTrusted(): Promise<Assertion[]> {
    return this.assertions.trusted();
  }

  /**
   * Creates a brand signed by a local authority: its account, a key in the
   * HSM and that key's account-key (name `serials`).
   */
  async createBrand(accountId: string, displayName: string, authorityId: string): Promise<{ brand: Brand; key: SigningKeyRecord; account: Assertion; accountKey: Assertion }> {
    checkBrandIdentity(accountId, displayName); // before any key is made in the HSM
    const root = (await this.keys.roots()).find((k) => k.label === `root-${authorityId}`);
    if (!root) throw new SetupError('ERR_NOT_FOUND', `no local authority "${authorityId}": create it with "serial-vault authority create"`);
    if (await this.brands.byAccountId(accountId)) throw new SetupError('ERR_CONFLICT', `brand "${accountId}" already exists`);
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
    return this.importBrand(account, accountKey, label);
  }

  /**
   * Registers a brand from its account and account-key assertions (signed by
   * a trusted root: Canonical's for real devices), with the HSM key whose
   * public key the account-key registers.
   */
  async importBrand(account: Assertion, accountKey: Assertion, keyLabel: string): Promise<{ brand: Brand; key: SigningKeyRecord; account: Assertion; accountKey: Assertion }> {
    if (!account.is('account') || !accountKey.is('account-key')) throw new SetupError('ERR_INVALID', 'expected an account and an account-key assertion');
    if (accountKey.view.accountId !== account.view.accountId) {
      throw new SetupError('ERR_INVALID', `the account-key is for "${accountKey.view.accountId}", not "${account.view.accountId}"`);
    }
    checkBrandIdentity(account.view.accountId, account.view.displayName);
    const trust = await this.trust();
    for (const r of trust.addBatch([account, accountKey])) {
      if (r.error) throw new SetupError('ERR_UNTRUSTED', `cannot import ${r.assertion.ref}: ${r.error.message}`);
    }
    const hsmKey = await this.keystore.find(keyLabel);
    if (!hsmKey) throw new SetupError('ERR_NOT_FOUND', `no key "${keyLabel}" in the HSM`);
    if (hsmKey.keyId !== accountKey.view.publicKeyId) {
      throw new SetupError('ERR_INVALID', `HSM key "${keyLabel}" (${hsmKey.keyId}) is not the key the account-key registers (${accountKey.view.publicKeyId})`);
    }
    await this.assertions.put(account);
    await this.assertions.put(accountKey);
    const brand = (await this.brands.byAccountId(account.view.accountId)) ?? (await this.brands.create(account.view.accountId, account.view.displayName));
    const key = await this.keys.register(keyLabel, hsmKey.keyId, 'brand', brand.id);
    return { brand, key, account, accountKey };
  }

  private async brandKey(brand: Brand, keyLabel?: string): Promise<SigningKeyRecord> {
    const keys = await this.keys.forBrand(brand.id);
    const key = keyLabel ? keys.find((k) => k.label === keyLabel) : keys[0];
    if (!key) throw new SetupError('ERR_NOT_FOUND', keyLabel ? `brand "${brand.accountId}" has no key "${keyLabel}"` : `brand "${brand.accountId}" has no key in the vault`);
    return key;
  }

  /** Registers a model assertion already signed by the brand, verified against the brand's keys. */
  async importModel(model: Assertion, settings: ModelSettings & { keyLabel?: string } = {}): Promise<ModelRecord> {
    if (!model.is('model')) throw new SetupError('ERR_INVALID', `expected a model assertion, got ${model.type}`);
    const brand = await this.brands.byAccountId(model.view.brandId);
    if (!brand) throw new SetupError('ERR_NOT_FOUND', `brand "${model.view.brandId}" is not set up in this vault`);
    const check = (await this.trust()).check(model);
    if (!check.ok) throw new SetupError('ERR_UNTRUSTED', `cannot import ${model.ref}: ${check.error.message}`);
    if (settings.serialTemplate !== undefined) checkSerialTemplate(settings.serialTemplate);
    const key = await this.brandKey(brand, settings.keyLabel);
    if (!model.view.serialAuthority.includes(brand.accountId)) {
      throw new SetupError('ERR_INVALID', `model ${model.view.model} does not let brand "${brand.accountId}" sign its serials`);
    }
    const { keyLabel: _ignored, ...rest } = settings;
    return this.models.register(brand.id, model, key.id, rest);
  }

  /** Builds a model from headers (YAML or JSON input), signs it with a brand key in the HSM and registers it. */
  async createModel(headers: Record<string, HeaderValue>, settings: ModelSettings & { keyLabel?: string } = {}): Promise<ModelRecord> {
    const brandId = headers['brand-id'];
    if (typeof brandId !== 'string') throw new SetupError('ERR_INVALID', 'the model needs a "brand-id"');
    const brand = await this.brands.byAccountId(brandId);
    if (!brand) throw new SetupError('ERR_NOT_FOUND', `brand "${brandId}" is not set up in this vault`);
    const key = await this.brandKey(brand, settings.keyLabel);
    const signer = await this.signerFor(key.label);
    let model: Assertion;
    try {
      model = await signAssertion(
        { series: '16', timestamp: formatRfc3339(this.clock()), ...headers, type: 'model', 'authority-id': brandId },
        undefined,
        signer,
      );
    } catch (e) {
      if (e instanceof AssertionError) throw new SetupError('ERR_INVALID', `${e.message} [${e.code}]`);
      throw e;
    }
    return this.importModel(model, settings);
  }

  /** The account and account-key that chain a brand's serials to a trusted root. */
  async brandChain(brandAccountId: string, signingKeyId: string): Promise<Assertion[]> {
    const account = await this.assertions.get('account', [brandAccountId]);
    const accountKey = await this.assertions.get('account-key', [signingKeyId]);
    return [account, accountKey].filter((a): a is Assertion => a !== undefined);
  }
}
