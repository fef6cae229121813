import { createHash } from 'node:crypto';
import type { Assertion, SerialRequestView } from '../assertions/index.js';
import type { ModelRecord } from '../catalog/models.js';
import type { ModelService } from '../catalog/model-service.js';
import type { Custody } from '../custody/custody.js';
import type { ShortCache } from '../db/short-cache.js';
import type { Registration, readSerialRequest } from './admission.js';
import type { ApiKeyRecord } from './api-keys.js';
import { ProvisioningError } from './errors.js';
import type { HardwareIdentities } from './hardware-identities.js';
import type { Nonce } from './issuer.js';
import { checkOldSerial, type RemodelRules } from './remodel.js';
import type { RequestIdRepository } from './request-ids.js';
import type { StationRecord } from './stations.js';
import { transient } from './transient.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface RegistrationStepParts {
  readonly custody: Custody;
  readonly models: ModelService;
  readonly remodelRules: RemodelRules;
  readonly hardwareIdentities: HardwareIdentities;
  readonly requestIds: RequestIdRepository;
  /** Models, their assertions and the trust chains, for a few seconds (short-cache.ts). */
  readonly cache: ShortCache;
}

/**
 * The steps of a registration that read the database before anything is
 * reserved or signed: which models it concerns, whether a remodel is
 * allowed, whether the request-id is fresh, which hardware identity the
 * device proves. The service runs them in order (service.ts).
 */
export class RegistrationSteps {
  constructor(private readonly parts: RegistrationStepParts) {}

  /** The registered model's assertion, as devices get it; cached. */
  modelAssertion(model: ModelRecord): Promise<Assertion> {
    return this.parts.cache.get(`assertion\0${model.assertionId}`, () => this.parts.models.assertion(model)).catch(transient);
  }

  /** The registered model the serial-request names and, on remodel, the one the device leaves. */
  async identifyModel(
    key: ApiKeyRecord | undefined,
    station: StationRecord | undefined,
    { request, sent, remodel }: ReturnType<typeof readSerialRequest>,
    clientAddress: string | undefined,
  ): Promise<Registration> {
    const find = (brandId: string, name: string) => this.parts.cache.get(`model\0${brandId}\0${name}`, () => this.parts.models.find(brandId, name)).catch(transient);
    const { brandId, model: name } = request.view;
    const model = await find(brandId, name);
    if (!model) throw new ProvisioningError('ERR_MODEL_UNKNOWN', `model ${brandId}/${name} is not registered in this vault`);
    if (!remodel) return { key, station, request, sent, model, remodel: undefined, clientAddress };
    const { brandId: fromBrand, model: fromName } = remodel.oldSerial.view;
    const source = await find(fromBrand, fromName);
    if (!source) throw new ProvisioningError('ERR_REMODEL_NOT_ALLOWED', `model ${fromBrand}/${fromName}, which the device leaves, is not registered in this vault, so no move from it is allowed`);
    return { key, station, request, sent, model, remodel: { ...remodel, source }, clientAddress };
  }

  /** A remodel: the old serial verifies and is the asking device's; a rule allows the move into the target's store. */
  async remodelIsAllowed({ remodel, model, request }: Registration): Promise<void> {
    if (!remodel) return;
    checkOldSerial(remodel, request, await this.parts.cache.get('trust', () => this.parts.custody.trust()).catch(transient));
    const target = await this.modelAssertion(model);
    const store = target.header('store');
    await this.parts.remodelRules.check(remodel.source, model, typeof store === 'string' ? store : undefined).catch(transient);
  }

  /** Single use, short lived, bound to the API key; the same serial-request may come again (after a 202). */
  async useRequestId({ key, request }: Registration): Promise<Nonce> {
    const requestHash = sha256(request.encode());
    const keyId = key?.id ?? 0;
    const state = await this.parts.requestIds.state(request.view.requestId, keyId).catch(transient);
    if (state.state === 'unknown') throw new ProvisioningError('ERR_REQUEST_ID_UNKNOWN', 'unknown request-id: ask for a new one');
    if (state.state === 'expired') throw new ProvisioningError('ERR_REQUEST_ID_EXPIRED', 'the request-id has expired: ask for a new one');
    if (state.state === 'used' && state.by !== requestHash) {
      throw new ProvisioningError('ERR_REQUEST_ID_USED', 'the request-id was already used by another serial-request: ask for a new one');
    }
    return { requestHash, ...(state.state === 'fresh' ? { consume: { requestId: request.view.requestId, apiKeyId: keyId, hash: requestHash, expiresAt: state.expiresAt } } : {}) };
  }

  /**
   * The hardware identity a device must prove: when its model or station
   * onboards by hardware identity, or (remodels keep the method) when the
   * model it leaves bound an identity to it.
   */
  async proveIdentity({ model, station, remodel, request }: Registration): Promise<{ id: number; keyDigest: string } | undefined> {
    const { hardwareIdentities } = this.parts;
    const bound = remodel ? await hardwareIdentities.boundTo(remodel.source.id, request.view.deviceKey.id).catch(transient) : undefined;
    const required = model.provisioning === 'hardware-identity' || station?.provisioning === 'hardware-identity' || remodel?.source.provisioning === 'hardware-identity' || bound;
    if (!required) return undefined;
    const identity = await hardwareIdentities.admit(request as Assertion<SerialRequestView>, model).catch(transient);
    if (bound && bound.id !== identity.id) {
      throw new ProvisioningError('ERR_HARDWARE_IDENTITY_SIGNATURE', `this device onboarded with another hardware identity than the one it presents now`);
    }
    return identity;
  }
}
