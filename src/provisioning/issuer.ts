import { AssertionError, decodeStream, encodeStream, formatRfc3339, signAssertion, type Assertion } from '../assertions/index.js';
import { formatSerial } from '../catalog/models.js';
import type { Custody } from '../custody/custody.js';
import type { SigningKeyRecord } from '../custody/signing-keys.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { KeyStoreError, TRANSIENT_KEYSTORE_ERRORS } from '../keystore/errors.js';
import { keyStoreSigner, type KeyStore } from '../keystore/keystore.js';
import type { Registration } from './admission.js';
import { ProvisioningError } from './errors.js';
import type { IssuanceWrite, IssuanceWriter } from './issuance-writer.js';
import type { StationQuotas} from './quotas.js';
import { quotaCharge } from './quotas.js';
import type { RequestIdRepository } from './request-ids.js';
import type { IssuanceLogEntry, SerialRepository } from './serials.js';
import { MAX_SERIAL_LENGTH, transient } from './transient.js';

export interface IssueResult {
  /** serial, brand account, account-key: enough for a device on an offline network. */
  readonly stream: Buffer;
  readonly serial: string;
  readonly brandId: string;
  readonly model: string;
  readonly outcome: IssuanceLogEntry['outcome'];
}

/** The request-id's part in an issuance: the request's hash, and the use to record if it is fresh. */
export interface Nonce {
  readonly requestHash: string;
  readonly consume?: IssuanceWrite['consume'];
}

/** An admitted registration, with what issuing its serial needs. */
export interface Issuance extends Registration {
  readonly nonce: Nonce;
  /** The keys that may sign the model's serials at `at`, the preferred first. */
  readonly signingKeys: readonly SigningKeyRecord[];
  /** Chosen from the brand's keys as cached: may be stale by a change another process made. */
  readonly signingKeyFromCache: boolean;
  /** The moment the keys were chosen for, and the serial's timestamp. */
  readonly at: Date;
  readonly deviceKeyId: string;
  /** The public key id of the key that signed the model: a key row's public key never changes, so a cached read gives the right one. */
  readonly modelKeyId: string | undefined;
  /** The hardware identity the device proved, bound to its serial when stored. */
  readonly identity: { readonly id: number; readonly keyDigest: string } | undefined;
  readonly log: Omit<IssuanceLogEntry, 'serial' | 'outcome' | 'signingKeyId'>;
}

/** What the serial chosen must also pass: a station's pattern and allow-list. */
export type SerialCheck = (serial: string, i: Issuance) => Promise<void>;

/** A fault of one key's token (away, busy, or the key missing from it): the next key of the model may sign instead. */
const isTokenFault = (e: unknown) => e instanceof KeyStoreError && (TRANSIENT_KEYSTORE_ERRORS.has(e.code) || e.code === 'ERR_KEY_NOT_FOUND');

/**
 * Issuing a serial for an admitted registration: the same one again for a
 * device that has it, or a new one signed in the HSM (by one of the
 * model's keys, another if its token fails) and stored with its log row,
 * quota count and identity binding in one transaction.
 */
export class SerialIssuer {
  constructor(
    private readonly db: Database,
    private readonly keystore: KeyStore,
    private readonly parts: {
      readonly custody: Custody;
      readonly serials: SerialRepository;
      readonly requestIds: RequestIdRepository;
      readonly writer: IssuanceWriter;
      readonly quotas: StationQuotas;
      readonly serialChecks: readonly SerialCheck[];
    },
  ) {}

  /** A device that already has its serial gets the same assertion back, byte for byte, and a log row saying so. */
  async repeatFor(i: Issuance): Promise<IssueResult | undefined> {
    const existing = await this.parts.serials.byDevice(i.model.id, i.deviceKeyId).catch(transient);
    if (!existing) return undefined;
    const serial = decodeStream(Buffer.from(existing.assertion, 'utf8'));
    const signKeyId = serial[0]?.signKeyId ?? i.signingKeys[0]!.keyId;
    await this.db
      .transaction(async (trx) => {
        const c = i.nonce.consume;
        if (c) await this.parts.requestIds.consume(trx, c.requestId, c.apiKeyId, c.hash, c.expiresAt);
        await this.parts.serials.log(trx, { ...i.log, signingKeyId: signKeyId, serial: existing.serial, outcome: 'repeated' });
      })
      .catch(transient);
    // The chain of the key that signed it, which a rotation since may have retired.
    return this.answer(serial, i, existing.serial, signKeyId, 'repeated');
  }

  /** The serial a new device gets: the next number of the model's template, or the one it proposes. */
  private async chooseSerial({ model, request }: Issuance): Promise<{ serial: string; number?: number }> {
    if (model.serialPolicy === 'template') {
      const number = await this.parts.serials.reserveNumber(model.id).catch(transient);
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

  /** Signs with the first key whose token answers; a token fault moves on to the next key, so the device never sees it. */
  private async sign(i: Issuance, serial: string): Promise<{ signed: Assertion; key: SigningKeyRecord }> {
    const { model, request } = i;
    const headers = {
      type: 'serial',
      'authority-id': model.brandAccountId,
      'brand-id': model.brandAccountId,
      model: model.name,
      serial,
      'device-key': request.view.deviceKey.encoded,
      'device-key-sha3-384': i.deviceKeyId,
      timestamp: formatRfc3339(i.at),
    };
    for (const [n, key] of i.signingKeys.entries()) {
      try {
        const signer = await keyStoreSigner(this.keystore, key.label);
        const signed = await signAssertion(headers, request.body, signer);
        return { signed, key };
      } catch (e) {
        const fault = e instanceof AssertionError && e.code === 'ERR_SIGNER_FAILED' && e.cause ? e.cause : e;
        if (isTokenFault(fault) && n < i.signingKeys.length - 1) continue;
        return transient(fault);
      }
    }
    throw new Error('no signing key');
  }

  /** Signs the serial in the HSM and writes it with its log row in one transaction; races end in the winner's answer. */
  async issueNew(i: Issuance): Promise<IssueResult> {
    const { model, request, deviceKeyId } = i;
    const chosen = await this.chooseSerial(i);
    const serial = chosen.serial;
    let number = chosen.number;
    let release = () => undefined as void;
    try {
      for (const check of this.parts.serialChecks) await check(serial, i);
      const holder = await this.parts.serials.bySerial(model.id, serial).catch(transient);
      if (holder?.deviceKeyId === deviceKeyId) {
        // The same device, whose concurrent request (another request-id) committed since we looked.
        const raced = await this.repeatFor(i);
        if (raced) return raced;
      }
      if (holder && !model.allowReprovision) {
        throw new ProvisioningError('ERR_SERIAL_CONFLICT', `serial ${serial} of ${model.brandAccountId}/${model.name} was already issued to another device key; this model does not allow re-provisioning`);
      }
      const charge = i.station ? quotaCharge(i.station, i.at) : undefined;
      if (charge) release = await this.parts.quotas.check(charge).catch(transient);
      const { signed, key } = await this.sign(i, serial);
      const outcome = holder ? 'reprovisioned' : 'issued';
      await this.parts.writer.submit({
        modelId: model.id,
        signingKeyRowId: key.id,
        signedAt: i.at,
        serial,
        deviceKeyId,
        assertion: signed.encode().toString('utf8'),
        log: { ...i.log, signingKeyId: key.keyId, serial, outcome },
        ...(i.nonce.consume ? { consume: i.nonce.consume } : {}),
        ...(number !== undefined ? { number } : {}),
        ...(holder ? { replaces: holder } : {}),
        ...(charge ? { quota: charge } : {}),
        ...(i.identity ? { identityId: i.identity.id } : {}),
      });
      // Counted in the database now: the place held for it goes at once, so the next check counts it once.
      release();
      number = undefined;
      return this.answer([signed], i, serial, key.keyId, outcome);
    } catch (e) {
      if (isUniqueViolation(e)) {
        // Lost a race: the same device (answer with its serial), the request-id used by
        // another request, or the same serial for another device.
        const raced = await this.repeatFor(i);
        if (raced) return raced;
        const now = await this.parts.requestIds.state(request.view.requestId, i.key?.id ?? 0).catch(transient);
        if (now.state === 'used' && now.by !== i.nonce.requestHash) {
          throw new ProvisioningError('ERR_REQUEST_ID_USED', 'the request-id was used by a concurrent request: ask for a new one');
        }
        throw new ProvisioningError('ERR_SERIAL_CONFLICT', `serial ${serial} of ${model.brandAccountId}/${model.name} was just issued to another device key`);
      }
      return transient(e);
    } finally {
      release();
      if (number !== undefined) await this.parts.serials.releaseNumber(model.id, number).catch(() => undefined);
    }
  }

  private async answer(serial: Assertion[], { model, modelKeyId }: Issuance, serialNumber: string, signingKeyId: string, outcome: IssueResult['outcome']): Promise<IssueResult> {
    const chain = await this.parts.custody.brandChain(model.brandAccountId, signingKeyId).catch(transient);
    // Signed by another key than the model's (an appliance's, an extra serial key): the model's account-key
    // goes along too, so a client holding only the trusted root can check the model as well as the serial.
    const modelChain = modelKeyId && modelKeyId !== signingKeyId ? (await this.parts.custody.brandChain(model.brandAccountId, modelKeyId).catch(transient)).filter((a) => a.type === 'account-key') : [];
    return { stream: encodeStream([...serial, ...chain, ...modelChain]), serial: serialNumber, brandId: model.brandAccountId, model: model.name, outcome };
  }
}
