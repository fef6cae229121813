import {
  AssertionError,
  decodeAssertion,
  readHardwareBody,
  verifyRequestIdSignature,
  type Assertion,
  type CheckResult,
  type HardwareBody,
  type HardwareIdentityView,
  type SerialRequestView,
  type TrustDatabase,
} from '../assertions/index.js';
import { OPERATOR_ACTOR, UnitOfWork } from '../audit/unit-of-work.js';
import type { ModelRecord } from '../catalog/models.js';
import type { Database } from '../db/database.js';
import { count, nowIso } from '../db/errors.js';
import { ProvisioningError } from './errors.js';
import { stageIdentities, storeIdentities, type ImportCounts, type ImportOptions } from './hardware-identity-import.js';

export type { ImportCounts, ImportOptions, ImportProgress } from './hardware-identity-import.js';

/** The device an identity onboarded: set in the transaction that stores that device's serial. */
export interface HardwareIdentityBinding {
  readonly deviceKeyId: string;
  readonly modelId: number;
  readonly serial: string;
  readonly at: Date;
}

export interface HardwareIdentityRecord {
  readonly id: number;
  /** The brand's account id. */
  readonly brandId: string;
  readonly issuerId: string;
  /** `hardware-id-key-sha3-384`: what a device names in its serial-request body. */
  readonly keyDigest: string;
  readonly hardwareId: string;
  readonly hardwareName: string;
  readonly manufacturer: string;
  /** The hardware-identity assertion, exactly as imported. */
  readonly assertion: string;
  readonly importedAt: Date;
  readonly binding: (HardwareIdentityBinding & { readonly model: string | undefined }) | undefined;
}

const MAX_PAGE = 1000;

function toRecord(r: Record<string, unknown>): HardwareIdentityRecord {
  const deviceKeyId = r['device_key_id'];
  return {
    id: Number(r['id']),
    brandId: String(r['brand_id']),
    issuerId: String(r['issuer_id']),
    keyDigest: String(r['key_sha3_384']),
    hardwareId: String(r['hardware_id']),
    hardwareName: String(r['hardware_name']),
    manufacturer: String(r['manufacturer']),
    assertion: String(r['assertion']),
    importedAt: new Date(String(r['imported_at'])),
    binding:
      deviceKeyId === null || deviceKeyId === undefined
        ? undefined
        : { deviceKeyId: String(deviceKeyId), modelId: Number(r['model_id']), model: (r['model_name'] as string | null) ?? undefined, serial: String(r['serial']), at: new Date(String(r['bound_at'])) },
  };
}

/** What the command line and the admin API show of an identity (not its assertion). */
export function hardwareIdentityView(r: HardwareIdentityRecord) {
  return {
    id: r.id,
    hardwareId: r.hardwareId,
    hardwareName: r.hardwareName,
    manufacturer: r.manufacturer,
    issuerId: r.issuerId,
    keyDigest: r.keyDigest,
    importedAt: r.importedAt.toISOString(),
    boundTo: r.binding ? { serial: r.binding.serial, model: r.binding.model ?? null, deviceKeyId: r.binding.deviceKeyId, boundAt: r.binding.at.toISOString() } : null,
  };
}

/** The check an import takes: an identity's signature through the vault's trusted roots and the account chains it keeps. */
export async function chainCheck(custody: { trust(): Promise<TrustDatabase> }): Promise<(a: Assertion) => CheckResult> {
  const trust = await custody.trust();
  return (a) => trust.check(a);
}

/**
 * Binds an identity to the device it onboards, inside the transaction that
 * stores the device's serial: only while it is unbound or bound to the same
 * device key (a retry, a remodel), so one identity onboards one device
 * whatever races. False when another device key holds it.
 */
export async function bindHardwareIdentity(trx: Database, identityId: number, binding: HardwareIdentityBinding): Promise<boolean> {
  const changed = await trx('hardware_identities')
    .where({ id: identityId })
    .andWhere((q) => q.whereNull('device_key_id').orWhere({ device_key_id: binding.deviceKeyId }))
    .update({ device_key_id: binding.deviceKeyId, model_id: binding.modelId, serial: binding.serial, bound_at: nowIso(binding.at) });
  return Number(changed) > 0;
}

/**
 * Secure onboarding: hardware-identity assertions imported in bulk ahead of
 * manufacture, and the check that a device asking for a serial holds the
 * hardware key of one of them (its gadget's prepare-serial-request hook
 * signs the request-id with it), bound to the first device key that does.
 */
export class HardwareIdentities {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Imports a stream of hardware-identity assertions for a brand: each
   * issued by the brand or an issuer it names, and verified by `check`.
   * The whole file is checked before one transaction stores it, so a bad
   * assertion anywhere leaves nothing applied; importing it again adds
   * nothing. One audit entry when it adds identities.
   */
  async import(brandId: string, source: AsyncIterable<Uint8Array> | Uint8Array, options: ImportOptions): Promise<ImportCounts> {
    const { staged, read } = await stageIdentities(brandId, source, options, (digests) => this.storedTexts(digests));
    const issuers = [...new Set(staged.map((s) => s.issuerId))].sort();
    return new UnitOfWork(this.db, this.clock).run(options.actor ?? OPERATOR_ACTOR, async (trx, record) => {
      const stored = await storeIdentities(trx, brandId, staged, this.clock());
      const counts = { read, added: stored.added, unchanged: read - stored.added };
      if (counts.added > 0) {
        await record({ action: 'hardware-identity.import', targetType: 'brand', targetId: brandId, storeId: brandId, before: null, after: { ...counts, issuers } });
      }
      return counts;
    });
  }

  private async storedTexts(digests: readonly string[]): Promise<Map<string, { brandId: string; assertion: string }>> {
    if (digests.length === 0) return new Map();
    const rows = (await this.db('hardware_identities').whereIn('key_sha3_384', digests).select('key_sha3_384', 'brand_id', 'assertion')) as Array<{ key_sha3_384: string; brand_id: string; assertion: string }>;
    return new Map(rows.map((r) => [r.key_sha3_384, { brandId: r.brand_id, assertion: r.assertion }]));
  }

  private query(trx: Database = this.db) {
    return trx('hardware_identities').leftJoin('models', 'models.id', 'hardware_identities.model_id').select('hardware_identities.*', 'models.name as model_name');
  }

  async byKeyDigest(digest: string): Promise<HardwareIdentityRecord | undefined> {
    const row = (await this.query().where('hardware_identities.key_sha3_384', digest).first()) as Record<string, unknown> | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** The identity that onboarded this device key for a model, if one did (a remodel keeps the way its device onboarded). */
  async boundTo(modelId: number, deviceKeyId: string): Promise<HardwareIdentityRecord | undefined> {
    const row = (await this.query().where({ 'hardware_identities.model_id': modelId, 'hardware_identities.device_key_id': deviceKeyId }).first()) as Record<string, unknown> | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** A brand's identities in import order, a page at a time: pass the last id seen as `after`. */
  async list(brandId: string, page: { after?: number; limit?: number } = {}): Promise<HardwareIdentityRecord[]> {
    const limit = Math.min(Math.max(page.limit ?? 100, 1), MAX_PAGE);
    const rows = (await this.query().where('hardware_identities.brand_id', brandId).andWhere('hardware_identities.id', '>', page.after ?? 0).orderBy('hardware_identities.id').limit(limit)) as Record<string, unknown>[];
    return rows.map(toRecord);
  }

  async count(brandId: string): Promise<number> {
    const row = (await this.db('hardware_identities').where({ brand_id: brandId }).count({ n: '*' }).first()) as { n?: unknown } | undefined;
    return count(row?.n);
  }

  /** See `bindHardwareIdentity`: for the issuance transaction. */
  bind(trx: Database, identityId: number, binding: HardwareIdentityBinding): Promise<boolean> {
    return bindHardwareIdentity(trx, identityId, binding);
  }

  /**
   * The identity a serial-request proves: named by the digest in its body,
   * imported for the model's brand, its request-id signed by the hardware
   * key, and not already onboarding another device key.
   */
  async admit(request: Assertion<SerialRequestView>, model: ModelRecord): Promise<HardwareIdentityRecord> {
    const proof = readProof(request);
    const identity = await this.byKeyDigest(proof.keyDigest);
    if (!identity || identity.brandId !== model.brandAccountId) {
      throw new ProvisioningError(
        'ERR_HARDWARE_IDENTITY_UNKNOWN',
        `no hardware identity with hardware-id-key-sha3-384 "${proof.keyDigest}" is imported for brand ${model.brandAccountId}: import its hardware-identity assertion with serial-vault hardware-identity import`,
      );
    }
    const view = decodeAssertion(Buffer.from(identity.assertion, 'utf8')).view as HardwareIdentityView;
    if (!verifyRequestIdSignature(view, request.view.requestId, proof.signature)) {
      throw new ProvisioningError(
        'ERR_HARDWARE_IDENTITY_SIGNATURE',
        `the request-id-signature does not verify with hardware identity ${identity.hardwareId}: the prepare-serial-request hook must sign the request-id with the hardware key (RSA PKCS#1 v1.5 or ECDSA, SHA-256)`,
      );
    }
    const bound = identity.binding;
    if (bound && bound.deviceKeyId !== request.view.deviceKey.id) {
      throw new ProvisioningError(
        'ERR_HARDWARE_IDENTITY_USED',
        `hardware identity ${identity.hardwareId} already onboarded device ${bound.serial} of ${identity.brandId}/${bound.model ?? `model ${bound.modelId}`} with another device key`,
      );
    }
    return identity;
  }
}

function readProof(request: Assertion<SerialRequestView>): HardwareBody {
  let proof: HardwareBody | undefined;
  try {
    proof = readHardwareBody(request.body);
  } catch (e) {
    if (e instanceof AssertionError) throw new ProvisioningError('ERR_HARDWARE_IDENTITY_REQUIRED', `cannot read the hardware identity in the serial-request body: ${e.message}`);
    throw e;
  }
  if (!proof) {
    throw new ProvisioningError(
      'ERR_HARDWARE_IDENTITY_REQUIRED',
      "the serial-request body proves no hardware identity: the gadget's prepare-serial-request hook must set hardware-id-key-sha3-384 and request-id-signature in registration.body",
    );
  }
  return proof;
}
