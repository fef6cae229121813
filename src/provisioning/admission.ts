import { AssertionError, TrustDatabase, decodeStream, type Assertion, type SerialRequestView } from '../assertions/index.js';
import type { ModelRecord } from '../catalog/models.js';
import type { ApiKeyRecord } from './api-keys.js';
import { ProvisioningError } from './errors.js';

/**
 * What a registration is once its serial-request is read and its model
 * found: what the admission checks look at, before any number is reserved
 * or anything is signed.
 */
export interface Registration {
  readonly key: ApiKeyRecord;
  /** The model the API key belongs to, when it still exists. */
  readonly keyModel: ModelRecord | undefined;
  readonly request: Assertion<SerialRequestView>;
  /** What came after the serial-request in the body (the model assertion). */
  readonly sent: readonly Assertion[];
  /** The registered model the serial-request names. */
  readonly model: ModelRecord;
  readonly clientAddress: string | undefined;
}

/**
 * One rule a registration must pass to be admitted. Checks run in order,
 * each refusing with its own code; station quotas, serial allow-lists and
 * hardware identity plug in here.
 */
export type AdmissionCheck = (r: Registration) => void | Promise<void>;

/** The serial-request and what follows it, decoded and self-signed; remodelling is refused. */
export function readSerialRequest(body: Buffer): { request: Assertion<SerialRequestView>; sent: Assertion[] } {
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
  const req = request.view;
  if (req.originalBrandId || req.originalModel || req.originalSerial || sent.some((a) => a.is('serial'))) {
    throw new ProvisioningError('ERR_REMODEL_UNSUPPORTED', 'remodelling is not supported by this vault');
  }
  const selfCheck = new TrustDatabase({ trusted: [] }).check(request);
  if (!selfCheck.ok) throw new ProvisioningError('ERR_SERIAL_REQUEST_INVALID', `the serial-request is not validly signed by its device key: ${selfCheck.error.message}`);
  return { request, sent };
}

/** An API key provisions one model only. */
export function apiKeyIsForModel({ key, keyModel, model }: Registration): void {
  if (key.modelId !== model.id) {
    throw new ProvisioningError('ERR_API_KEY_MODEL', `this API key is for model ${keyModel?.brandAccountId ?? '?'}/${keyModel?.name ?? '?'}, not ${model.brandAccountId}/${model.name}`);
  }
}

export function modelIsEnabled({ model }: Registration): void {
  if (!model.enabled) throw new ProvisioningError('ERR_MODEL_DISABLED', `model ${model.brandAccountId}/${model.name} is disabled in this vault`);
}

/** The model assertion a device sends, if any, must be the one registered (not an older or foreign revision). */
export function sentModelIsRegistered(registered: (model: ModelRecord) => Promise<Assertion>): AdmissionCheck {
  return async function sentModelMatches({ sent, model }) {
    const sentModel = sent.find((a) => a.is('model'));
    if (!sentModel) return;
    const mine = await registered(model);
    if (!sentModel.encode().equals(mine.encode())) {
      throw new ProvisioningError(
        'ERR_MODEL_MISMATCH',
        `the model assertion sent (revision ${sentModel.revision}) is not the one registered for ${model.brandAccountId}/${model.name} (revision ${mine.revision})`,
      );
    }
  };
}
