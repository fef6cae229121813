import type { Assertion, SerialRequestView, SerialView, TrustDatabase } from '../assertions/index.js';
import { OPERATOR_ACTOR, UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { ModelRecord } from '../catalog/models.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation, nowIso } from '../db/errors.js';
import { ProvisioningError } from './errors.js';

/** What a re-registration brings beside its serial-request: the serial the device has now. */
export interface RemodelRequest {
  readonly oldSerial: Assertion<SerialView>;
}

export interface RemodelRule {
  readonly id: number;
  readonly fromModelId: number;
  readonly toModelId: number;
  /** The sub-store the target model must name, when set. */
  readonly store: string | undefined;
  readonly createdAt: string;
}

const toRule = (r: Record<string, unknown>): RemodelRule => ({
  id: Number(r['id']),
  fromModelId: Number(r['from_model_id']),
  toModelId: Number(r['to_model_id']),
  store: (r['store'] as string | null) ?? undefined,
  createdAt: String(r['created_at']),
});

const ref = (m: ModelRecord) => `${m.brandAccountId}/${m.name}`;

/**
 * snapd's re-registration (a remodel to another brand or model): the
 * serial-request carries `original-brand-id`, `original-model` and
 * `original-serial`, and the device's current serial follows the new
 * model in the stream. Anything short of all of that is refused, never
 * taken for a first registration.
 */
export function readRemodel(request: Assertion<SerialRequestView>, sent: readonly Assertion[]): RemodelRequest | undefined {
  const { originalBrandId, originalModel, originalSerial } = request.view;
  const serials = sent.filter((a) => a.is('serial'));
  if (!originalBrandId && !originalModel && !originalSerial && serials.length === 0) return undefined;
  if (!originalBrandId || !originalModel || !originalSerial) {
    throw new ProvisioningError('ERR_REMODEL_SERIAL_INVALID', 'a re-registration needs original-brand-id, original-model and original-serial in the serial-request');
  }
  if (serials.length !== 1) throw new ProvisioningError('ERR_REMODEL_SERIAL_INVALID', `a re-registration sends the device's current serial after the model: found ${serials.length} serial assertions`);
  const oldSerial = serials[0] as Assertion<SerialView>;
  const v = oldSerial.view;
  if (v.brandId !== originalBrandId || v.model !== originalModel || v.serial !== originalSerial) {
    throw new ProvisioningError(
      'ERR_REMODEL_SERIAL_INVALID',
      `the serial sent (${v.brandId}/${v.model}/${v.serial}) is not the one the serial-request names (${originalBrandId}/${originalModel}/${originalSerial})`,
    );
  }
  return { oldSerial };
}

/** The old serial must be one a brand key of this vault signed, for the very device key that asks now. */
export function checkOldSerial(remodel: RemodelRequest, request: Assertion<SerialRequestView>, trust: TrustDatabase): void {
  const { oldSerial } = remodel;
  const verdict = trust.check(oldSerial);
  if (!verdict.ok) {
    throw new ProvisioningError('ERR_REMODEL_SERIAL_INVALID', `the device's current serial ${oldSerial.view.serial} does not verify: ${verdict.error.message}`);
  }
  if (oldSerial.view.deviceKeyId !== request.view.deviceKey.id) {
    throw new ProvisioningError('ERR_REMODEL_DEVICE_KEY', `serial ${oldSerial.view.serial} belongs to another device key than the one that signed this serial-request`);
  }
}

/** Which moves between models are allowed: one rule per (source model, target model), optionally naming the target's sub-store. */
export class RemodelRules {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async find(from: ModelRecord, to: ModelRecord): Promise<RemodelRule | undefined> {
    const row = await this.db('remodel_rules').where({ from_model_id: from.id, to_model_id: to.id }).first();
    return row ? toRule(row) : undefined;
  }

  async list(): Promise<RemodelRule[]> {
    return (await this.db('remodel_rules').orderBy('id')).map(toRule);
  }

  /** Refuses a move no rule allows, or one into another sub-store than its rule names. */
  async check(from: ModelRecord, to: ModelRecord, targetStore: string | undefined): Promise<void> {
    const rule = await this.find(from, to);
    if (!rule) {
      throw new ProvisioningError('ERR_REMODEL_NOT_ALLOWED', `moving devices from ${ref(from)} to ${ref(to)} is not allowed: an administrator allows it with serial-vault remodel allow --from ${ref(from)} --to ${ref(to)}`);
    }
    if (rule.store !== undefined && rule.store !== targetStore) {
      throw new ProvisioningError('ERR_REMODEL_NOT_ALLOWED', `moving devices from ${ref(from)} to ${ref(to)} is allowed only into store ${rule.store}, and ${ref(to)} names ${targetStore ? `store ${targetStore}` : 'no store'}`);
    }
  }

  /** Allows a move (again: a second allow of the same pair changes its store). */
  async allow(from: ModelRecord, to: ModelRecord, store: string | undefined, actor: Actor = OPERATOR_ACTOR): Promise<RemodelRule> {
    if (from.id === to.id) throw new ProvisioningError('ERR_STATION_INVALID', 'a remodel moves a device to another model: --from and --to are the same');
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      const before = await new RemodelRules(trx).find(from, to);
      try {
        if (before) await trx('remodel_rules').where({ id: before.id }).update({ store: store ?? null });
        else await trx('remodel_rules').insert({ from_model_id: from.id, to_model_id: to.id, store: store ?? null, created_at: nowIso(this.clock()) });
      } catch (e) {
        if (isUniqueViolation(e)) throw new ProvisioningError('ERR_REMODEL_NOT_ALLOWED', `a rule for ${ref(from)} → ${ref(to)} was just written; look again`);
        throw e;
      }
      const after = (await new RemodelRules(trx).find(from, to)) as RemodelRule;
      await record({ action: 'remodel.allow', targetType: 'remodel-rule', targetId: `${ref(from)}>${ref(to)}`, storeId: to.brandAccountId, before: before ? { store: before.store ?? null } : null, after: { from: ref(from), to: ref(to), store: store ?? null } });
      return after;
    });
  }

  async remove(from: ModelRecord, to: ModelRecord, actor: Actor = OPERATOR_ACTOR): Promise<boolean> {
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      const n = await trx('remodel_rules').where({ from_model_id: from.id, to_model_id: to.id }).delete();
      if (n === 0) return false;
      await record({ action: 'remodel.remove', targetType: 'remodel-rule', targetId: `${ref(from)}>${ref(to)}`, storeId: to.brandAccountId, before: { from: ref(from), to: ref(to) }, after: null });
      return true;
    });
  }
}
