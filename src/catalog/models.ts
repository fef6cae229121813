import type { Assertion } from '../assertions/index.js';
import { AssertionStore } from '../db/assertion-store.js';
import type { Database } from '../db/database.js';
import { bool, nowIso } from '../db/errors.js';
import { CatalogError } from './errors.js';

export type SerialPolicy = 'device' | 'template';

/** How a model's devices show they may have a serial: an API key, or a hardware identity imported beforehand. */
export const PROVISIONING_METHODS = ['api-key', 'hardware-identity'] as const;
export type ProvisioningMethod = (typeof PROVISIONING_METHODS)[number];

export interface ModelRecord {
  readonly id: number;
  readonly brandId: number;
  readonly brandAccountId: string;
  readonly name: string;
  readonly assertionId: number;
  readonly signingKeyId: number;
  readonly enabled: boolean;
  readonly serialPolicy: SerialPolicy;
  readonly serialTemplate: string | undefined;
  readonly allowReprovision: boolean;
  readonly provisioning: ProvisioningMethod;
}

export interface ModelSettings {
  readonly serialPolicy?: SerialPolicy;
  readonly serialTemplate?: string;
  readonly allowReprovision?: boolean;
  readonly enabled?: boolean;
  readonly provisioning?: ProvisioningMethod;
}

/** `{model}` and `{n}` or `{n:08}` (zero-padded): the only template fields. */
const TEMPLATE = /^(?:[A-Za-z0-9._-]|\{model\}|\{brand\}|\{n(?::0\d{1,2})?\})+$/;

export function checkSerialTemplate(template: string): string {
  if (!TEMPLATE.test(template) || !/\{n(?::0\d{1,2})?\}/.test(template)) {
    throw new CatalogError('ERR_SERIAL_TEMPLATE_INVALID', `invalid serial template "${template}": use letters, digits, ".", "_", "-", {model}, {brand} and one counter {n} or {n:08}`);
  }
  return template;
}

export function formatSerial(template: string, values: { model: string; brand: string; n: number }): string {
  return template
    .replaceAll('{model}', values.model)
    .replaceAll('{brand}', values.brand)
    .replace(/\{n(?::0(\d{1,2}))?\}/g, (_, width: string | undefined) => String(values.n).padStart(width ? Number(width) : 0, '0'));
}

const toModel = (r: Record<string, unknown>): ModelRecord => ({
  id: Number(r['id']),
  brandId: Number(r['brand_id']),
  brandAccountId: String(r['account_id']),
  name: String(r['name']),
  assertionId: Number(r['assertion_id']),
  signingKeyId: Number(r['signing_key_id']),
  enabled: bool(r['enabled']),
  serialPolicy: r['serial_policy'] === 'template' ? 'template' : 'device',
  serialTemplate: (r['serial_template'] as string | null) ?? undefined,
  allowReprovision: bool(r['allow_reprovision']),
  provisioning: r['provisioning'] === 'hardware-identity' ? 'hardware-identity' : 'api-key',
});

/** Registered models: their signed assertion, the key that signs their serials and the serial policy. */
export class ModelRepository {
  private readonly assertions: AssertionStore;
  constructor(private readonly db: Database) {
    this.assertions = new AssertionStore(db);
  }

  private query() {
    return this.db('models').join('brands', 'brands.id', 'models.brand_id').select('models.*', 'brands.account_id');
  }

  async register(brandId: number, model: Assertion, signingKeyId: number, settings: ModelSettings = {}): Promise<ModelRecord> {
    return this.db.transaction(async (trx) => {
      const assertionId = await this.assertions.put(model, {}, trx);
      const name = model.headerString('model');
      const existing = await trx('models').where({ brand_id: brandId, name }).first();
      const values = {
        assertion_id: assertionId,
        signing_key_id: signingKeyId,
        serial_policy: settings.serialPolicy ?? existing?.serial_policy ?? 'device',
        serial_template: settings.serialTemplate ?? existing?.serial_template ?? null,
        allow_reprovision: settings.allowReprovision ?? bool(existing?.allow_reprovision),
        enabled: settings.enabled ?? (existing ? bool(existing.enabled) : true),
        provisioning: settings.provisioning ?? existing?.provisioning ?? 'api-key',
      };
      if (existing) await trx('models').where({ id: existing.id }).update(values);
      else await trx('models').insert({ brand_id: brandId, name, created_at: nowIso(), ...values });
      const row = await trx('models').join('brands', 'brands.id', 'models.brand_id').select('models.*', 'brands.account_id').where({ brand_id: brandId, name }).first();
      return toModel(row);
    });
  }

  async find(brandAccountId: string, name: string): Promise<ModelRecord | undefined> {
    const row = await this.query().where({ 'brands.account_id': brandAccountId, 'models.name': name }).first();
    return row ? toModel(row) : undefined;
  }

  async byId(id: number): Promise<ModelRecord | undefined> {
    const row = await this.query().where({ 'models.id': id }).first();
    return row ? toModel(row) : undefined;
  }

  async list(): Promise<ModelRecord[]> {
    return (await this.query().orderBy(['brands.account_id', 'models.name'])).map(toModel);
  }

  /** Keys beside the model's own that sign its serials too (several tokens), by signing_keys row id. */
  async serialKeyIds(modelId: number): Promise<number[]> {
    return ((await this.db('model_serial_keys').where({ model_id: modelId }).orderBy('signing_key_id')) as Array<{ signing_key_id: number }>).map((r) => Number(r.signing_key_id));
  }

  async assertion(model: ModelRecord): Promise<Assertion> {
    const a = await this.assertions.byId(model.assertionId);
    if (!a) throw new Error(`model ${model.name} has no assertion`);
    return a;
  }
}
