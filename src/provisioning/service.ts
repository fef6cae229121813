import { createHash } from 'node:crypto';
import {
  AssertionError,
  decodeStream,
  encodeStream,
  formatRfc3339,
  signAssertion,
  type Assertion,
} from '../assertions/index.js';
import { formatSerial, type ModelRecord } from '../catalog/models.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { vaultSecret } from '../db/settings.js';
import { keyStoreSigner, type KeyStore } from '../keystore/keystore.js';
import type { ModelService } from '../catalog/model-service.js';
import type { Custody } from '../custody/custody.js';
import type { SigningKeyRecord } from '../custody/signing-keys.js';
import { CustodyError } from '../custody/errors.js';
import { signingKeyAt } from '../custody/key-state.js';
import { COMMITTED } from '../audit/unit-of-work.js';
import { ApiKeyAdmin } from './api-key-admin.js';
import { ApiKeyRepository, type ApiKeyRecord } from './api-keys.js';
import { ProvisioningError } from './errors.js';
import { MAX_SERIAL_LENGTH, transient } from './transient.js';
import { IssuanceWriter, type IssuanceWrite } from './issuance-writer.js';
import { ShortCache } from '../db/short-cache.js';
import { apiKeyIsForModel, modelIsEnabled, readSerialRequest, sentModelIsRegistered, type AdmissionCheck, type Registration } from './admission.js';
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

/** The request-id's part in an issuance: the request's hash, and the use to record if it is fresh. */
interface Nonce {
  readonly requestHash: string;
  readonly consume?: IssuanceWrite['consume'];
}

/** An admitted registration, with what issuing its serial needs. */
interface Issuance extends Registration {
  readonly nonce: Nonce;
  readonly signingKey: SigningKeyRecord;
  /** Chosen from the brand's keys as cached: may be stale by a change another process made. */
  readonly signingKeyFromCache: boolean;
  /** The moment the key was chosen for, and the serial's timestamp. */
  readonly at: Date;
  readonly deviceKeyId: string;
  readonly log: Omit<IssuanceLogEntry, 'serial' | 'outcome'>;
}

const CACHE_MS = 5000;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Device registration, as snapd's devicestate expects it: request ids, then
 * serial-requests checked and answered with a serial signed in the HSM.
 * Idempotent per (brand, model, device key); every answer is logged in the
 * same transaction as the serial it gives.
 */
export class ProvisioningService {
  readonly apiKeys: ApiKeyRepository;
  /** Creating and revoking API keys, audited. */
  readonly apiKeyAdmin: ApiKeyAdmin;
  readonly requestIds: RequestIdRepository;
  readonly serials: SerialRepository;
  private readonly writer: IssuanceWriter;
  /** The admission checks, in order (see admission.ts). */
  private readonly admission: readonly AdmissionCheck[];
  private origin = '';
  private readonly clock: () => Date;
  /** API keys, models and the brand's keys, for a few seconds (short-cache.ts). */
  private readonly cache = new ShortCache(CACHE_MS);

  constructor(
    private readonly db: Database,
    private readonly keystore: KeyStore,
    private readonly parts: { readonly custody: Custody; readonly models: ModelService },
    options: ProvisioningOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.apiKeys = new ApiKeyRepository(db);
    this.apiKeyAdmin = new ApiKeyAdmin(db, this.clock);
    this.requestIds = new RequestIdRepository(db, options.requestIdTtlMs, this.clock);
    this.serials = new SerialRepository(db, this.clock);
    this.writer = new IssuanceWriter(db, this.clock);
    // A key rotated or revoked, a model or API key changed here: read again at once.
    db.on(COMMITTED, () => this.cache.clear());
    this.admission = [
      apiKeyIsForModel,
      modelIsEnabled,
      sentModelIsRegistered((model) => this.cache.get(`assertion\0${model.assertionId}`, () => this.parts.models.assertion(model)).catch(transient)),
    ];
  }

  /** Called once at start-up: reservations of a previous run are free again. */
  async start(): Promise<void> {
    await this.requestIds.start();
    // This instance's name in its issuance log: stable for the database, so a push upstream is idempotent by (origin, row).
    this.origin = (await vaultSecret(this.db, 'instance-id', 16)).toString('hex');
    await this.serials.releaseAllReservations();
  }

  private async authenticate(apiKey: string | undefined): Promise<ApiKeyRecord> {
    const record = await this.cache.get(`key\0${apiKey ?? ''}`, () => this.apiKeys.verify(apiKey)).catch(transient);
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

  /**
   * A registration, as a list of named steps: who is asking, what they ask,
   * for which model, whether they are admitted, whether the request-id is
   * fresh; then the serial they already have, or a new one.
   */
  async issueSerial(input: IssueInput): Promise<IssueResult> {
    const key = await this.authenticate(input.apiKey);
    const { request, sent } = readSerialRequest(input.body);
    const registration = await this.identifyModel(key, request, sent, input.clientAddress);
    for (const check of this.admission) await check(registration);
    const nonce = await this.useRequestId(registration);
    const issuance = await this.prepare(registration, nonce);
    try {
      return (await this.repeatFor(issuance)) ?? (await this.issueNew(issuance));
    } catch (e) {
      // The key chosen from a cached read was rotated or revoked by another process a moment ago:
      // read the brand's keys again and sign once more with the key in use now.
      if (!(e instanceof CustodyError && e.code === 'ERR_SIGNING_KEY_UNUSABLE' && issuance.signingKeyFromCache)) throw e;
      this.cache.delete(`brand-keys\0${registration.model.brandAccountId}`);
      const fresh = await this.prepare(registration, nonce);
      return (await this.repeatFor(fresh)) ?? (await this.issueNew(fresh));
    }
  }

  /** The registered model the serial-request names; the API key's own model is read from the cache. */
  private async identifyModel(key: ApiKeyRecord, request: Registration['request'], sent: Assertion[], clientAddress: string | undefined): Promise<Registration> {
    const { brandId, model: name } = request.view;
    const keyModel = await this.cache.get(`model\0${key.modelId}`, () => this.parts.models.byId(key.modelId)).catch(transient);
    const model = keyModel && keyModel.brandAccountId === brandId && keyModel.name === name ? keyModel : await this.parts.models.find(brandId, name).catch(transient);
    if (!model) throw new ProvisioningError('ERR_MODEL_UNKNOWN', `model ${brandId}/${name} is not registered in this vault`);
    return { key, keyModel, request, sent, model, clientAddress };
  }

  /** Single use, short lived, bound to the API key; the same serial-request may come again (after a 202). */
  private async useRequestId({ key, request }: Registration): Promise<Nonce> {
    const requestHash = sha256(request.encode());
    const state = await this.requestIds.state(request.view.requestId, key.id).catch(transient);
    if (state.state === 'unknown') throw new ProvisioningError('ERR_REQUEST_ID_UNKNOWN', 'unknown request-id: ask for a new one');
    if (state.state === 'expired') throw new ProvisioningError('ERR_REQUEST_ID_EXPIRED', 'the request-id has expired: ask for a new one');
    if (state.state === 'used' && state.by !== requestHash) {
      throw new ProvisioningError('ERR_REQUEST_ID_USED', 'the request-id was already used by another serial-request: ask for a new one');
    }
    return { requestHash, ...(state.state === 'fresh' ? { consume: { requestId: request.view.requestId, apiKeyId: key.id, hash: requestHash, expiresAt: state.expiresAt } } : {}) };
  }

  /** The key that signs the model's serials at this second (the serial's timestamp), and the log row every answer writes. */
  private async prepare(r: Registration, nonce: Nonce): Promise<Issuance> {
    const { model, request } = r;
    const at = this.clock();
    const key = `brand-keys\0${model.brandAccountId}`;
    const fromCache = this.cache.has(key);
    // The brand's keys are read at most every few seconds (at once after a change here); the choice is made per request.
    const keys = await this.cache.get(key, () => this.parts.custody.keys.ofModelBrand(model.signingKeyId)).catch(transient);
    const start = keys.find((k) => k.id === model.signingKeyId);
    if (!start) throw new Error(`model ${model.name} has no signing key`);
    const signingKey = signingKeyAt(start, keys, at);
    const deviceKeyId = request.view.deviceKey.id;
    const log = {
      brandId: model.brandAccountId,
      model: model.name,
      deviceKeyId,
      signingKeyId: signingKey.keyId,
      requestId: request.view.requestId,
      origin: this.origin,
      ...(r.clientAddress ? { clientAddress: r.clientAddress } : {}),
    };
    return { ...r, nonce, signingKey, signingKeyFromCache: fromCache, at, deviceKeyId, log };
  }

  /** A device that already has its serial gets the same assertion back, byte for byte, and a log row saying so. */
  private async repeatFor(i: Issuance): Promise<IssueResult | undefined> {
    const existing = await this.serials.byDevice(i.model.id, i.deviceKeyId).catch(transient);
    if (!existing) return undefined;
    await this.db
      .transaction(async (trx) => {
        const c = i.nonce.consume;
        if (c) await this.requestIds.consume(trx, c.requestId, c.apiKeyId, c.hash, c.expiresAt);
        await this.serials.log(trx, { ...i.log, serial: existing.serial, outcome: 'repeated' });
      })
      .catch(transient);
    const serial = decodeStream(Buffer.from(existing.assertion, 'utf8'));
    // The chain of the key that signed it, which a rotation since may have retired.
    return this.answer(serial, i.model, existing.serial, serial[0]?.signKeyId ?? i.signingKey.keyId, 'repeated');
  }

  /** The serial a new device gets: the next number of the model's template, or the one it proposes. */
  private async chooseSerial({ model, request }: Issuance): Promise<{ serial: string; number?: number }> {
    if (model.serialPolicy === 'template') {
      const number = await this.serials.reserveNumber(model.id).catch(transient);
      return { serial: formatSerial(model.serialTemplate ?? '{model}-{n:08}', { model: model.name, brand: model.brandAccountId, n: number }), number };
    }
    const serial = request.view.serial;
    if (!serial) {
      throw new ProvisioningError('ERR_SERIAL_MISSING', `model ${model.name} takes the serial the device proposes, and the serial-request has none: set registration.proposed-serial in the gadget`);
    }
    const length = [...serial].length;
    if (length > MAX_SERIAL_LENGTH) {
      throw new ProvisioningError('ERR_SERIAL_INVALID', `the proposed serial has ${length} characters; this vault takes serials of at most ${MAX_SERIAL_LENGTH}`);
    }
    return { serial };
  }

  /** Signs the serial in the HSM and writes it with its log row in one transaction; races end in the winner's answer. */
  private async issueNew(i: Issuance): Promise<IssueResult> {
    const { model, request, deviceKeyId, signingKey } = i;
    const chosen = await this.chooseSerial(i);
    const serial = chosen.serial;
    let number = chosen.number;
    try {
      const holder = await this.serials.bySerial(model.id, serial).catch(transient);
      if (holder?.deviceKeyId === deviceKeyId) {
        // The same device, whose concurrent request (another request-id) committed since we looked.
        const raced = await this.repeatFor(i);
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
          'device-key': request.view.deviceKey.encoded,
          'device-key-sha3-384': deviceKeyId,
          timestamp: formatRfc3339(i.at),
        },
        request.body,
        signer,
      ).catch((e: unknown) => transient(e instanceof AssertionError && e.code === 'ERR_SIGNER_FAILED' && e.cause ? e.cause : e));
      const outcome = holder ? 'reprovisioned' : 'issued';
      await this.writer.submit({
        modelId: model.id,
        signingKeyRowId: signingKey.id,
        signedAt: i.at,
        serial,
        deviceKeyId,
        assertion: signed.encode().toString('utf8'),
        log: { ...i.log, serial, outcome },
        ...(i.nonce.consume ? { consume: i.nonce.consume } : {}),
        ...(number !== undefined ? { number } : {}),
        ...(holder ? { replaces: holder } : {}),
      });
      number = undefined;
      return this.answer([signed], model, serial, signingKey.keyId, outcome);
    } catch (e) {
      if (isUniqueViolation(e)) {
        // Lost a race: the same device (answer with its serial), the request-id used by
        // another request, or the same serial for another device.
        const raced = await this.repeatFor(i);
        if (raced) return raced;
        const now = await this.requestIds.state(request.view.requestId, i.key.id).catch(transient);
        if (now.state === 'used' && now.by !== i.nonce.requestHash) {
          throw new ProvisioningError('ERR_REQUEST_ID_USED', 'the request-id was used by a concurrent request: ask for a new one');
        }
        throw new ProvisioningError('ERR_SERIAL_CONFLICT', `serial ${serial} of ${model.brandAccountId}/${model.name} was just issued to another device key`);
      }
      return transient(e);
    } finally {
      if (number !== undefined) await this.serials.releaseNumber(model.id, number).catch(() => undefined);
    }
  }

  private async answer(serial: Assertion[], model: ModelRecord, serialNumber: string, signingKeyId: string, outcome: IssueResult['outcome']): Promise<IssueResult> {
    const chain = await this.parts.custody.brandChain(model.brandAccountId, signingKeyId).catch(transient);
    return { stream: encodeStream([...serial, ...chain]), serial: serialNumber, brandId: model.brandAccountId, model: model.name, outcome };
  }
}
