import { createHash } from 'node:crypto';
import {
  AssertionError,
  TrustDatabase,
  decodeStream,
  encodeStream,
  formatRfc3339,
  signAssertion,
  type Assertion,
} from '../assertions/index.js';
import { formatSerial, type ModelRecord } from '../catalog/models.js';
import type { Database } from '../db/database.js';
import { isTransientDbError, isUniqueViolation } from '../db/errors.js';
import { vaultSecret } from '../db/settings.js';
import { KeyStoreError, TRANSIENT_KEYSTORE_ERRORS } from '../keystore/errors.js';
import { keyStoreSigner, type KeyStore } from '../keystore/keystore.js';
import type { ModelService } from '../catalog/model-service.js';
import type { Custody } from '../custody/custody.js';
import { ApiKeyRepository, type ApiKeyRecord } from './api-keys.js';
import { ProvisioningError } from './errors.js';
import { IssuanceWriter } from './issuance-writer.js';
import { RequestIdRepository } from './request-ids.js';
import { SerialRepository, type IssuanceLogEntry } from './serials.js';

export interface ProvisioningOptions {
  readonly requestIdTtlMs: number;
  readonly clock?: () => Date;
}

export interface IssueInput {
  readonly apiKey: string | undefined;
  /** The body snapd posts: serial-request, then the model (then, on remodel, the old serial). */
  readonly body: Buffer;
  readonly clientAddress?: string;
}

export interface IssueResult {
  /** serial, brand account, account-key: enough for a device on an offline network. */
  readonly stream: Buffer;
  readonly serial: string;
  readonly brandId: string;
  readonly model: string;
  readonly outcome: IssuanceLogEntry['outcome'];
}

const CACHE_MS = 5000;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Turns faults that may pass into "come back later", leaving everything else as it is. */
/** The serials column's size, checked here so that SQLite and PostgreSQL refuse alike. */
export const MAX_SERIAL_LENGTH = 128;

function transient(e: unknown): never {
  if (e instanceof KeyStoreError && TRANSIENT_KEYSTORE_ERRORS.has(e.code)) {
    throw new ProvisioningError('ERR_TEMPORARILY_UNAVAILABLE', 'the signing service is temporarily unavailable; try again shortly', { cause: e });
  }
  if (isTransientDbError(e)) throw new ProvisioningError('ERR_TEMPORARILY_UNAVAILABLE', 'the vault database is temporarily unavailable; try again shortly', { cause: e });
  throw e;
}

/**
 * Device registration, as snapd's devicestate expects it: request ids, then
 * serial-requests checked and answered with a serial signed in the HSM.
 * Idempotent per (brand, model, device key); every answer is logged in the
 * same transaction as the serial it gives.
 */
export class ProvisioningService {
  readonly apiKeys: ApiKeyRepository;
  readonly requestIds: RequestIdRepository;
  readonly serials: SerialRepository;
  private readonly writer: IssuanceWriter;
  private origin = '';
  private readonly clock: () => Date;
  private readonly chains = new Map<string, Assertion[]>();
  /**
   * API keys and models change rarely and are read on every request: kept
   * for a few seconds (a revoked key stops working within CACHE_MS).
   */
  private readonly cache = new Map<string, { until: number; value: Promise<unknown> }>();

  constructor(
    private readonly db: Database,
    private readonly keystore: KeyStore,
    private readonly parts: { readonly custody: Custody; readonly models: ModelService },
    options: ProvisioningOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.apiKeys = new ApiKeyRepository(db);
    this.requestIds = new RequestIdRepository(db, options.requestIdTtlMs, this.clock);
    this.serials = new SerialRepository(db, this.clock);
    this.writer = new IssuanceWriter(db, this.clock);
  }

  /** Called once at start-up: reservations of a previous run are free again. */
  async start(): Promise<void> {
    await this.requestIds.start();
    // This instance's name in its issuance log: stable for the database, so a push upstream is idempotent by (origin, row).
    this.origin = (await vaultSecret(this.db, 'instance-id', 16)).toString('hex');
    await this.serials.releaseAllReservations();
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.value as Promise<T>;
    const value = load();
    this.cache.set(key, { until: now + CACHE_MS, value });
    value.catch(() => this.cache.delete(key));
    if (this.cache.size > 10_000) this.cache.clear();
    return value;
  }

  private async authenticate(apiKey: string | undefined): Promise<ApiKeyRecord> {
    const record = await this.cached(`key\0${apiKey ?? ''}`, () => this.apiKeys.verify(apiKey)).catch(transient);
    if (!record) {
      throw new ProvisioningError('ERR_API_KEY_INVALID', apiKey ? 'the api-key header is not a valid API key of this vault' : 'the api-key header is missing: set it in the gadget\'s device-service.headers');
    }
    return record;
  }

  /** Refuses a missing or invalid api-key; answered from a short cache. */
  async checkApiKey(apiKey: string | undefined): Promise<void> {
    await this.authenticate(apiKey);
  }

  async newRequestId(apiKey: string | undefined): Promise<string> {
    const key = await this.authenticate(apiKey);
    return this.requestIds.create(key.id).catch(transient);
  }

  async issueSerial(input: IssueInput): Promise<IssueResult> {
    const key = await this.authenticate(input.apiKey);

    let assertions: Assertion[];
    try {
      assertions = decodeStream(input.body);
    } catch (e) {
      if (e instanceof AssertionError) throw new ProvisioningError('ERR_SERIAL_REQUEST_INVALID', `cannot decode the request: ${e.message}`);
      throw e;
    }
    const [request, ...rest] = assertions;
    if (!request?.is('serial-request')) {
      throw new ProvisioningError('ERR_SERIAL_REQUEST_INVALID', `the request must start with a serial-request assertion, not ${request ? `a ${request.type}` : 'nothing'}`);
    }
    const req = request.view;
    if (req.originalBrandId || req.originalModel || req.originalSerial || rest.some((a) => a.is('serial'))) {
      throw new ProvisioningError('ERR_REMODEL_UNSUPPORTED', 'remodelling is not supported by this vault');
    }
    const selfCheck = new TrustDatabase({ trusted: [] }).check(request);
    if (!selfCheck.ok) throw new ProvisioningError('ERR_SERIAL_REQUEST_INVALID', `the serial-request is not validly signed by its device key: ${selfCheck.error.message}`);

    const model = await this.modelFor(key, req.brandId, req.model);
    const registered = await this.cached(`assertion\0${model.assertionId}`, () => this.parts.models.assertion(model)).catch(transient);
    const sentModel = rest.find((a) => a.is('model'));
    if (sentModel && !sentModel.encode().equals(registered.encode())) {
      throw new ProvisioningError(
        'ERR_MODEL_MISMATCH',
        `the model assertion sent (revision ${sentModel.revision}) is not the one registered for ${model.brandAccountId}/${model.name} (revision ${registered.revision})`,
      );
    }

    const requestHash = sha256(request.encode());
    const state = await this.requestIds.state(req.requestId, key.id).catch(transient);
    if (state.state === 'unknown') throw new ProvisioningError('ERR_REQUEST_ID_UNKNOWN', 'unknown request-id: ask for a new one');
    if (state.state === 'expired') throw new ProvisioningError('ERR_REQUEST_ID_EXPIRED', 'the request-id has expired: ask for a new one');
    if (state.state === 'used' && state.by !== requestHash) {
      throw new ProvisioningError('ERR_REQUEST_ID_USED', 'the request-id was already used by another serial-request: ask for a new one');
    }
    const deviceKeyId = req.deviceKey.id;
    const signingKey = await this.cached(`signing-key\0${model.signingKeyId}`, () => this.parts.custody.keys.byId(model.signingKeyId)).catch(transient);
    if (!signingKey) throw new Error(`model ${model.name} has no signing key`);
    const logBase = {
      brandId: model.brandAccountId,
      model: model.name,
      deviceKeyId,
      signingKeyId: signingKey.keyId,
      requestId: req.requestId,
      origin: this.origin,
      ...(input.clientAddress ? { clientAddress: input.clientAddress } : {}),
    };

    const repeat = async (): Promise<IssueResult | undefined> => {
      const existing = await this.serials.byDevice(model.id, deviceKeyId).catch(transient);
      if (!existing) return undefined;
      await this.db
        .transaction(async (trx) => {
          if (state.state === 'fresh') await this.requestIds.consume(trx, req.requestId, key.id, requestHash, state.expiresAt);
          await this.serials.log(trx, { ...logBase, serial: existing.serial, outcome: 'repeated' });
        })
        .catch(transient);
      return this.answer(decodeStream(Buffer.from(existing.assertion, 'utf8')), model, existing.serial, signingKey.keyId, 'repeated');
    };

    const again = await repeat();
    if (again) return again;

    let serial: string;
    let number: number | undefined;
    if (model.serialPolicy === 'template') {
      number = await this.serials.reserveNumber(model.id).catch(transient);
      serial = formatSerial(model.serialTemplate ?? '{model}-{n:08}', { model: model.name, brand: model.brandAccountId, n: number });
    } else {
      if (!req.serial) {
        throw new ProvisioningError('ERR_SERIAL_MISSING', `model ${model.name} takes the serial the device proposes, and the serial-request has none: set registration.proposed-serial in the gadget`);
      }
      serial = req.serial;
      const length = [...serial].length;
      if (length > MAX_SERIAL_LENGTH) {
        throw new ProvisioningError('ERR_SERIAL_INVALID', `the proposed serial has ${length} characters; this vault takes serials of at most ${MAX_SERIAL_LENGTH}`);
      }
    }

    try {
      const holder = await this.serials.bySerial(model.id, serial).catch(transient);
      if (holder?.deviceKeyId === deviceKeyId) {
        // The same device, whose concurrent request (another request-id) committed since we looked.
        const raced = await repeat();
        if (raced) return raced;
      }
      if (holder && !model.allowReprovision) {
        throw new ProvisioningError('ERR_SERIAL_CONFLICT', `serial ${serial} of ${model.brandAccountId}/${model.name} was already issued to another device key; this model does not allow re-provisioning`);
      }
      const signer = await keyStoreSigner(this.keystore, signingKey.label).catch(transient);
      const signed = await signAssertion(
        {
          type: 'serial',
          'authority-id': model.brandAccountId,
          'brand-id': model.brandAccountId,
          model: model.name,
          serial,
          'device-key': req.deviceKey.encoded,
          'device-key-sha3-384': deviceKeyId,
          timestamp: formatRfc3339(this.clock()),
        },
        request.body,
        signer,
      ).catch((e: unknown) => transient(e instanceof AssertionError && e.code === 'ERR_SIGNER_FAILED' && e.cause ? e.cause : e));
      const text = signed.encode().toString('utf8');
      const outcome = holder ? 'reprovisioned' : 'issued';
      await this.writer.submit({
          modelId: model.id,
          signingKeyRowId: signingKey.id,
          serial,
          deviceKeyId,
          assertion: text,
          log: { ...logBase, serial, outcome },
          ...(state.state === 'fresh' ? { consume: { requestId: req.requestId, apiKeyId: key.id, hash: requestHash, expiresAt: state.expiresAt } } : {}),
          ...(number !== undefined ? { number } : {}),
          ...(holder ? { replaces: holder } : {}),
      });
      number = undefined;
      return this.answer([signed], model, serial, signingKey.keyId, outcome);
    } catch (e) {
      if (isUniqueViolation(e)) {
        // Lost a race: the same device (answer with its serial), the request-id used by
        // another request, or the same serial for another device.
        const raced = await repeat();
        if (raced) return raced;
        const now = await this.requestIds.state(req.requestId, key.id).catch(transient);
        if (now.state === 'used' && now.by !== requestHash) {
          throw new ProvisioningError('ERR_REQUEST_ID_USED', 'the request-id was used by a concurrent request: ask for a new one');
        }
        throw new ProvisioningError('ERR_SERIAL_CONFLICT', `serial ${serial} of ${model.brandAccountId}/${model.name} was just issued to another device key`);
      }
      return transient(e);
    } finally {
      if (number !== undefined) await this.serials.releaseNumber(model.id, number).catch(() => undefined);
    }
  }

  private async modelFor(key: ApiKeyRecord, brandId: string, name: string): Promise<ModelRecord> {
    const model = await this.cached(`model\0${key.modelId}`, () => this.parts.models.byId(key.modelId)).catch(transient);
    if (!model || model.brandAccountId !== brandId || model.name !== name) {
      const named = await this.parts.models.find(brandId, name).catch(transient);
      if (!named) throw new ProvisioningError('ERR_MODEL_UNKNOWN', `model ${brandId}/${name} is not registered in this vault`);
      throw new ProvisioningError('ERR_API_KEY_MODEL', `this API key is for model ${model?.brandAccountId ?? '?'}/${model?.name ?? '?'}, not ${brandId}/${name}`);
    }
    if (!model.enabled) throw new ProvisioningError('ERR_MODEL_DISABLED', `model ${brandId}/${name} is disabled in this vault`);
    return model;
  }

  private async answer(serial: Assertion[], model: ModelRecord, serialNumber: string, signingKeyId: string, outcome: IssueResult['outcome']): Promise<IssueResult> {
    const cacheKey = `${model.brandAccountId}\0${signingKeyId}`;
    let chain = this.chains.get(cacheKey);
    if (!chain) {
      chain = await this.parts.custody.brandChain(model.brandAccountId, signingKeyId).catch(transient);
      this.chains.set(cacheKey, chain);
    }
    return { stream: encodeStream([...serial, ...chain]), serial: serialNumber, brandId: model.brandAccountId, model: model.name, outcome };
  }
}
