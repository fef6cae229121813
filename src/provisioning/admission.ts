import { AssertionError, TrustDatabase, decodeStream, type Assertion, type SerialRequestView } from '../assertions/index.js';
import type { ModelRecord } from '../catalog/models.js';
import type { ApiKeyRecord } from './api-keys.js';
import { ProvisioningError } from './errors.js';
import { readRemodel, type RemodelRequest } from './remodel.js';
import type { StationRecord } from './stations.js';

/**
 * What a registration is once its serial-request is read and its model
 * found: what the admission checks look at, before any number is reserved
 * or anything is signed.
 */
export interface Registration {
  /** None when the device onboards by hardware identity without an API key. */
  readonly key: ApiKeyRecord | undefined;
  /** The API key's factory line. */
  readonly station: StationRecord | undefined;
  readonly request: Assertion<SerialRequestView>;
  /** What came after the serial-request in the body (the model assertion; on remodel, the old serial). */
  readonly sent: readonly Assertion[];
  /** The registered model the serial-request names (on remodel: the model the device moves to). */
  readonly model: ModelRecord;
  /** A re-registration, with the registered model the device moves from. */
  readonly remodel: (RemodelRequest & { readonly source: ModelRecord }) | undefined;
  readonly clientAddress: string | undefined;
}

/**
 * One rule a registration must pass to be admitted. Checks run in order,
 * each refusing with its own code.
 */
export type AdmissionCheck = (r: Registration) => void | Promise<void>;

const ref = (m: ModelRecord) => `${m.brandAccountId}/${m.name}`;

/** The serial-request and what follows it, decoded and self-signed; a re-registration read as one. */
export function readSerialRequest(body: Buffer): { request: Assertion<SerialRequestView>; sent: Assertion[]; remodel: RemodelRequest | undefined } {
  let assertions: Assertion[];
  try {
    assertions = decodeStream(body);
  } catch (e) {
    if (e instanceof AssertionError) throw new ProvisioningError('ERR_SERIAL_REQUEST_INVALID', `cannot decode the request: ${e.message}`);
    throw e;
  }
  const [request, ...sent] = assertions;
  if (!request?.is('serial-request')) {
    throw new ProvisioningError('ERR_SERIAL_REQUEST_INVALID', `the request must start with a serial-request assertion, not ${request ? `a ${request.type}` : 'nothing'}`);
  }
  const selfCheck = new TrustDatabase({ trusted: [] }).check(request);
  if (!selfCheck.ok) throw new ProvisioningError('ERR_SERIAL_REQUEST_INVALID', `the serial-request is not validly signed by its device key: ${selfCheck.error.message}`);
  return { request, sent, remodel: readRemodel(request, sent) };
}

/**
 * An API key provisions the models of its station; on a remodel, snapd
 * sends the old gadget's key, so the station of either model admits it.
 * Without a key, only a model that onboards by hardware identity (or, on
 * a remodel, leaves one that does).
 */
export function keyAdmitsModel({ key, station, model, remodel }: Registration): void {
  if (!key) {
    // Remodels keep the method: a device onboarded without a key moves without one, proving its identity again.
    if (model.provisioning === 'hardware-identity' || remodel?.source.provisioning === 'hardware-identity') return;
    throw new ProvisioningError('ERR_API_KEY_INVALID', "the api-key header is missing: set it in the gadget's device-service.headers");
  }
  if (!station) throw new ProvisioningError('ERR_API_KEY_INVALID', 'this API key belongs to no station any more');
  if (station.modelIds.includes(model.id) || (remodel && station.modelIds.includes(remodel.source.id))) return;
  throw new ProvisioningError('ERR_API_KEY_MODEL', `this API key is station ${station.name}'s, which may not provision ${ref(model)}: add the model with serial-vault station update ${station.name} --model ${ref(model)}`);
}

/** A station provisions only while enabled and inside its validity window. */
export function stationIsOpen(clock: () => Date): AdmissionCheck {
  return function stationOpen({ station }) {
    if (!station) return;
    if (station.disabledAt) throw new ProvisioningError('ERR_STATION_DISABLED', `station ${station.name} was disabled at ${station.disabledAt.toISOString()}; an administrator can enable it again`);
    const now = clock().getTime();
    if (station.validFrom && now < station.validFrom.getTime()) {
      throw new ProvisioningError('ERR_STATION_NOT_OPEN', `station ${station.name} provisions from ${station.validFrom.toISOString()}; it is ${new Date(now).toISOString()} now`);
    }
    if (station.validUntil && now >= station.validUntil.getTime()) {
      throw new ProvisioningError('ERR_STATION_CLOSED', `station ${station.name} provisioned until ${station.validUntil.toISOString()}; extend it with serial-vault station update ${station.name} --until TIME`);
    }
  };
}

export function modelIsEnabled({ model }: Registration): void {
  if (!model.enabled) throw new ProvisioningError('ERR_MODEL_DISABLED', `model ${ref(model)} is disabled in this vault`);
}

/** The model assertion a device sends, if any, must be the one registered (not an older or foreign revision). */
export function sentModelIsRegistered(registered: (model: ModelRecord) => Promise<Assertion>): AdmissionCheck {
  return async function sentModelMatches({ sent, model }) {
    const sentModel = sent.find((a) => a.is('model'));
    if (!sentModel) return;
    const mine = await registered(model);
    if (!sentModel.encode().equals(mine.encode())) {
      throw new ProvisioningError('ERR_MODEL_MISMATCH', `the model assertion sent (revision ${sentModel.revision}) is not the one registered for ${ref(model)} (revision ${mine.revision})`);
    }
  };
}
