import { AssertionError, formatRfc3339, nextRevisionHeaders, signAssertion, type Assertion, type HeaderValue } from '../assertions/index.js';
import type { Brand } from '../accounts/brands.js';
import { keyStateAt, usableAt } from '../custody/key-state.js';
import type { SigningKeyRecord } from '../custody/signing-keys.js';
import { OPERATOR_ACTOR, UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { Custody } from '../custody/custody.js';
import type { Database } from '../db/database.js';
import { CatalogError } from './errors.js';
import { ModelRepository, checkSerialTemplate, type ModelRecord, type ModelSettings } from './models.js';
import { checkModelSnaps } from './model-snaps-check.js';
import type { SnapService } from './snap-service.js';

/** How a model is registered: its serial policy, the brand key that signs it, and whether its snaps are checked against the catalog. */
export type ModelOptions = ModelSettings & { keyLabel?: string; checkCatalog?: boolean };

/**
 * Device models: signed in the HSM with a brand key held in custody, or
 * imported already signed and checked against the brand's chain, then
 * registered with their serial policy.
 */
export class ModelService {
  readonly repository: ModelRepository;

  constructor(
    private readonly db: Database,
    private readonly custody: Custody,
    private readonly snaps: SnapService,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.repository = new ModelRepository(db);
  }

  find(brandAccountId: string, name: string): Promise<ModelRecord | undefined> {
    return this.repository.find(brandAccountId, name);
  }

  byId(id: number): Promise<ModelRecord | undefined> {
    return this.repository.byId(id);
  }

  list(): Promise<ModelRecord[]> {
    return this.repository.list();
  }

  /** The model assertion as registered. */
  assertion(model: ModelRecord): Promise<Assertion> {
    return this.repository.assertion(model);
  }

  /** Registers a model assertion already signed by the brand, verified against the brand's keys. */
  async importModel(model: Assertion, settings: ModelOptions = {}, actor: Actor = OPERATOR_ACTOR): Promise<ModelRecord> {
    if (!model.is('model')) throw new CatalogError('ERR_MODEL_INVALID', `expected a model assertion, got ${model.type}`);
    const brand = await this.custody.brands.byAccountId(model.view.brandId);
    if (!brand) throw new CatalogError('ERR_MODEL_BRAND_UNKNOWN', `brand "${model.view.brandId}" is not set up in this vault`);
    const check = (await this.custody.trust()).check(model);
    if (!check.ok) throw new CatalogError('ERR_MODEL_UNTRUSTED', `cannot import ${model.ref}: ${check.error.message}`);
    if (settings.serialTemplate !== undefined) checkSerialTemplate(settings.serialTemplate);
    const name = model.view.model;
    const registered = await this.repository.find(brand.accountId, name);
    const key = await this.serialsKeyFor(brand, registered, settings.keyLabel);
    if (!model.view.serialAuthority.includes(brand.accountId)) {
      throw new CatalogError('ERR_MODEL_INVALID', `model ${model.view.model} does not let brand "${brand.accountId}" sign its serials`);
    }
    if (settings.checkCatalog !== false) {
      // The model's store if it is one of this vault's, else the brand's own store.
      const storeId = model.view.store && (await this.snaps.hasStore(model.view.store)) ? model.view.store : brand.accountId;
      checkModelSnaps(model.view, storeId, await this.snaps.visible(storeId));
    }
    const { keyLabel: _ignored, checkCatalog: _check, ...rest } = settings;
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      const models = new ModelRepository(trx);
      const before = await models.find(brand.accountId, name);
      const registered = await models.register(brand.id, model, key.id, rest);
      const describe = (m: ModelRecord) => ({ serialPolicy: m.serialPolicy, serialTemplate: m.serialTemplate, allowReprovision: m.allowReprovision, enabled: m.enabled });
      await record({
        action: before ? 'model.update' : 'model.register',
        targetType: 'model',
        targetId: `${brand.accountId}/${name}`,
        storeId: brand.accountId,
        before: before ? describe(before) : null,
        after: { revision: model.revision, signingKey: key.keyId, ...describe(registered) },
      });
      return registered;
    });
  }

  /**
   * The serials key a model is registered with: a model already registered
   * keeps its own (moving it is the guarded model.signing-key ceremony); a
   * new one takes the named serials key in use, or the brand's.
   */
  private async serialsKeyFor(brand: Brand, registered: ModelRecord | undefined, keyLabel: string | undefined): Promise<SigningKeyRecord> {
    if (registered) {
      const own = (await this.custody.keys.byId(registered.signingKeyId))!;
      if (keyLabel !== undefined && keyLabel !== own.label) {
        throw new CatalogError('ERR_MODEL_INVALID', `model ${brand.accountId}/${registered.name} is signed for by key "${own.label}": moving it to "${keyLabel}" is a ceremony (serial-vault ceremony propose model.signing-key --brand ${brand.accountId} --param model=${registered.name} --param key=${keyLabel})`);
      }
      return own;
    }
    const key = await this.custody.brandKey(brand, keyLabel);
    if (key.purpose !== 'serials') throw new CatalogError('ERR_MODEL_INVALID', `key "${key.label}" is a ${key.purpose} key; a model's serials are signed by a serials key`);
    return key;
  }

  /** Builds a model from headers (YAML or JSON input), signs it with a brand key in the HSM and registers it. */
  async createModel(headers: Record<string, HeaderValue>, settings: ModelOptions = {}, actor: Actor = OPERATOR_ACTOR): Promise<ModelRecord> {
    const brandId = headers['brand-id'];
    if (typeof brandId !== 'string') throw new CatalogError('ERR_MODEL_INVALID', 'the model needs a "brand-id"');
    const brand = await this.custody.brands.byAccountId(brandId);
    if (!brand) throw new CatalogError('ERR_MODEL_BRAND_UNKNOWN', `brand "${brandId}" is not set up in this vault`);
    // A brand's models key when it has one (its serials key otherwise), unless a key is named.
    const key = await this.custody.brandKey(brand, settings.keyLabel, 'models');
    const signer = await this.custody.signerFor(key.label);
    let model: Assertion;
    try {
      model = await signAssertion(
        { series: '16', timestamp: formatRfc3339(this.clock()), ...headers, type: 'model', 'authority-id': brandId },
        undefined,
        signer,
      );
    } catch (e) {
      if (e instanceof AssertionError) throw new CatalogError('ERR_MODEL_INVALID', `${e.message} [${e.code}]`);
      throw e;
    }
    // Registered with the brand's serials key, unless the named key is one.
    const { keyLabel: _named, ...rest } = settings;
    return this.importModel(model, key.purpose === 'serials' ? settings : rest, actor);
  }

  /** Moves a model's serials to another serials key of its brand (a guarded ceremony action). */
  async changeSigningKey(brandAccountId: string, name: string, keyLabel: string, actor: Actor = OPERATOR_ACTOR): Promise<ModelRecord> {
    const model = await this.find(brandAccountId, name);
    if (!model) throw new CatalogError('ERR_MODEL_INVALID', `model ${brandAccountId}/${name} is not registered in this vault`);
    const brand = (await this.custody.brands.byAccountId(brandAccountId))!;
    const key = await this.custody.keys.byLabel(keyLabel);
    if (!key || key.purpose !== 'serials' || key.brandId !== brand.id) throw new CatalogError('ERR_MODEL_INVALID', `"${keyLabel}" is not a serials key of brand "${brandAccountId}"`);
    if (!usableAt(key, this.clock())) throw new CatalogError('ERR_MODEL_INVALID', `key "${keyLabel}" is ${keyStateAt(key, this.clock())}: a model moves only to a key in use`);
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      await trx('models').where({ id: model.id }).update({ signing_key_id: key.id });
      await record({ action: 'model.signing-key', targetType: 'model', targetId: `${brandAccountId}/${name}`, storeId: brandAccountId, before: { signingKey: model.signingKeyId }, after: { signingKey: key.id, label: key.label } });
      return (await new ModelRepository(trx).byId(model.id))!;
    });
  }

  /**
   * Signs the model again as its next revision with the brand's models key
   * in use now: after a rotation, images are built with a model the new
   * key signed, while devices with the old revision keep working.
   */
  async resign(brandAccountId: string, name: string, actor: Actor = OPERATOR_ACTOR): Promise<ModelRecord> {
    const model = await this.find(brandAccountId, name);
    if (!model) throw new CatalogError('ERR_MODEL_INVALID', `model ${brandAccountId}/${name} is not registered in this vault`);
    const brand = (await this.custody.brands.byAccountId(brandAccountId))!;
    const current = await this.assertion(model);
    const key = await this.custody.brandKey(brand, undefined, 'models');
    const signed = await signAssertion(nextRevisionHeaders(current, { timestamp: formatRfc3339(this.clock()) }), current.body, await this.custody.signerFor(key.label));
    return this.importModel(signed, { checkCatalog: false }, actor);
  }

  /**
   * Lets another serials key of the brand sign the model's serials beside
   * its own: each in its own HSM token or slot, so signing spreads over
   * them and goes on when one token fails.
   */
  async addSerialKey(brandAccountId: string, name: string, keyLabel: string, actor: Actor = OPERATOR_ACTOR): Promise<number[]> {
    const model = await this.find(brandAccountId, name);
    if (!model) throw new CatalogError('ERR_MODEL_INVALID', `model ${brandAccountId}/${name} is not registered in this vault`);
    const brand = (await this.custody.brands.byAccountId(brandAccountId))!;
    const key = await this.custody.keys.byLabel(keyLabel);
    if (!key || key.purpose !== 'serials' || key.brandId !== brand.id) throw new CatalogError('ERR_MODEL_INVALID', `"${keyLabel}" is not a serials key of brand "${brandAccountId}"`);
    if (!usableAt(key, this.clock())) throw new CatalogError('ERR_MODEL_INVALID', `key "${keyLabel}" is ${keyStateAt(key, this.clock())}: only a key in use signs serials`);
    if (key.id === model.signingKeyId) throw new CatalogError('ERR_MODEL_INVALID', `key "${keyLabel}" is already model ${name}'s own key`);
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      await trx('model_serial_keys').insert({ model_id: model.id, signing_key_id: key.id }).onConflict(['model_id', 'signing_key_id']).ignore();
      await record({ action: 'model.serial-key.add', targetType: 'model', targetId: `${brandAccountId}/${name}`, storeId: brandAccountId, before: null, after: { label: key.label, keyId: key.keyId } });
      return new ModelRepository(trx).serialKeyIds(model.id);
    });
  }

  /** Stops a key signing the model's serials beside its own key. False when it did not. */
  async removeSerialKey(brandAccountId: string, name: string, keyLabel: string, actor: Actor = OPERATOR_ACTOR): Promise<boolean> {
    const model = await this.find(brandAccountId, name);
    if (!model) throw new CatalogError('ERR_MODEL_INVALID', `model ${brandAccountId}/${name} is not registered in this vault`);
    const key = await this.custody.keys.byLabel(keyLabel);
    if (!key) return false;
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      const n = await trx('model_serial_keys').where({ model_id: model.id, signing_key_id: key.id }).delete();
      if (n === 0) return false;
      await record({ action: 'model.serial-key.remove', targetType: 'model', targetId: `${brandAccountId}/${name}`, storeId: brandAccountId, before: { label: key.label }, after: null });
      return true;
    });
  }

  serialKeyIds(model: ModelRecord): Promise<number[]> {
    return this.repository.serialKeyIds(model.id);
  }
}
