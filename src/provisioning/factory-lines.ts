import type { Assertion } from '../assertions/index.js';
import type { ModelService } from '../catalog/model-service.js';
import type { ModelRecord, ProvisioningMethod } from '../catalog/models.js';
import { OPERATOR_ACTOR, type Actor } from '../audit/unit-of-work.js';
import type { ApiKeyRepository } from './api-keys.js';
import { ProvisioningError } from './errors.js';
import type { StationQuotas } from './quotas.js';
import type { RegistrationStats, ReportQuery, ReportRow } from './registration-stats.js';
import type { RemodelRule, RemodelRules } from './remodel.js';
import type { StationAdmin } from './station-admin.js';
import type { StationChanges, StationRecord, StationRepository } from './stations.js';

/** A station as people read it: models by name, limits with what is used now, its API keys by prefix. */
export interface StationView {
  readonly name: string;
  readonly brand: string;
  readonly models: readonly string[];
  readonly provisioning: ProvisioningMethod;
  readonly validFrom: string | null;
  readonly validUntil: string | null;
  readonly perHour: number | null;
  readonly perDay: number | null;
  readonly total: number | null;
  readonly pattern: string | null;
  readonly allowlist: boolean;
  readonly disabled: boolean;
  readonly usage: ReadonlyArray<{ window: string; limit: number | null; used: number }>;
  readonly apiKeys: ReadonlyArray<{ prefix: string; name: string; revoked: boolean }>;
}

/** A model as people read it: its serial policy and what its assertion says. */
export interface ModelView {
  readonly name: string;
  readonly brand: string;
  readonly displayName: string | null;
  readonly store: string | null;
  readonly grade: string | null;
  readonly revision: number;
  readonly signKeyId: string;
  readonly enabled: boolean;
  readonly serialPolicy: 'device' | 'template';
  readonly serialTemplate: string | null;
  readonly allowReprovision: boolean;
  readonly provisioning: ProvisioningMethod;
}

export interface RemodelRuleView {
  readonly from: string;
  readonly to: string;
  readonly store: string | null;
  readonly createdAt: string;
}

/** A new station as asked for: models by name (`model` or `brand/model`). */
export interface StationRequest {
  readonly name: string;
  readonly models: readonly string[];
  readonly provisioning?: ProvisioningMethod;
  readonly validFrom?: Date;
  readonly validUntil?: Date;
  readonly perHour?: number;
  readonly perDay?: number;
  readonly total?: number;
  readonly pattern?: string;
  readonly allowlist?: boolean;
}

export type StationUpdate = Omit<StationChanges, 'modelIds'> & { readonly models?: readonly string[] };

const iso = (d: Date | undefined) => d?.toISOString().replace('.000Z', 'Z') ?? null;
const ref = (m: ModelRecord) => `${m.brandAccountId}/${m.name}`;
const headerText = (a: Assertion, name: string) => {
  const v = a.header(name);
  return typeof v === 'string' ? v : null;
};

function modelView(m: ModelRecord, a: Assertion): ModelView {
  return {
    name: m.name,
    brand: m.brandAccountId,
    displayName: headerText(a, 'display-name'),
    store: headerText(a, 'store'),
    grade: headerText(a, 'grade'),
    revision: a.revision,
    signKeyId: a.signKeyId,
    enabled: m.enabled,
    serialPolicy: m.serialPolicy,
    serialTemplate: m.serialTemplate ?? null,
    allowReprovision: m.allowReprovision,
    provisioning: m.provisioning,
  };
}

/**
 * Factory lines by name, as the CLI and the admin API ask for them:
 * stations, their API keys, remodel rules and registration reports.
 */
export class FactoryLines {
  constructor(
    private readonly parts: {
      readonly stations: StationRepository;
      readonly admin: StationAdmin;
      readonly apiKeys: ApiKeyRepository;
      readonly quotas: StationQuotas;
      readonly rules: RemodelRules;
      readonly stats: RegistrationStats;
      readonly models: ModelService;
      readonly clock: () => Date;
    },
  ) {}

  /** The brand's models with their serial policies. */
  async models(brand: string): Promise<ModelView[]> {
    const models = (await this.parts.models.list()).filter((m) => m.brandAccountId === brand);
    return Promise.all(models.map(async (m) => modelView(m, await this.parts.models.assertion(m))));
  }

  /** A model's assertion as registered, for building images. */
  async modelAssertion(brand: string, name: string): Promise<Assertion> {
    return this.parts.models.assertion(await this.model(brand, name));
  }

  /** A model by `name` or `brand/name`; a bare name is the brand's. */
  async model(brand: string, name: string): Promise<ModelRecord> {
    const [b, m] = name.includes('/') ? (name.split('/', 2) as [string, string]) : [brand, name];
    const model = await this.parts.models.find(b, m);
    if (!model) throw new ProvisioningError('ERR_MODEL_UNKNOWN', `model ${b}/${m} is not registered in this vault`);
    return model;
  }

  async station(brand: string, name: string): Promise<StationRecord> {
    const station = await this.parts.stations.byName(brand, name);
    if (!station) throw new ProvisioningError('ERR_STATION_UNKNOWN', `brand ${brand} has no station named ${name}: serial-vault station list shows them`);
    return station;
  }

  async view(station: StationRecord): Promise<StationView> {
    const models = await Promise.all(station.modelIds.map((id) => this.parts.models.byId(id)));
    const usage = await this.parts.quotas.usage(station, this.parts.clock());
    const keys = await this.parts.apiKeys.list({ stationId: station.id });
    return {
      name: station.name,
      brand: station.brandId,
      models: models.map((m) => (m ? ref(m) : '?')),
      provisioning: station.provisioning,
      validFrom: iso(station.validFrom),
      validUntil: iso(station.validUntil),
      perHour: station.limits.perHour ?? null,
      perDay: station.limits.perDay ?? null,
      total: station.limits.total ?? null,
      pattern: station.pattern ?? null,
      allowlist: station.allowlist,
      disabled: station.disabledAt !== undefined,
      usage: usage.map((u) => ({ window: u.window, limit: u.limit ?? null, used: u.used })),
      apiKeys: keys.map((k) => ({ prefix: k.prefix, name: k.name, revoked: k.revoked })),
    };
  }

  async list(brand?: string): Promise<StationView[]> {
    return Promise.all((await this.parts.stations.list(brand)).map((s) => this.view(s)));
  }

  /** A new station and its first API key, which is shown only now. */
  async create(brand: string, req: StationRequest, actor: Actor = OPERATOR_ACTOR): Promise<{ station: StationView; apiKey: string }> {
    const models = await Promise.all(req.models.map((m) => this.model(brand, m)));
    const limits = { ...(req.perHour !== undefined ? { perHour: req.perHour } : {}), ...(req.perDay !== undefined ? { perDay: req.perDay } : {}), ...(req.total !== undefined ? { total: req.total } : {}) };
    const made = await this.parts.admin.create(
      {
        brandId: brand,
        name: req.name,
        models,
        limits,
        ...(req.provisioning ? { provisioning: req.provisioning } : {}),
        ...(req.validFrom ? { validFrom: req.validFrom } : {}),
        ...(req.validUntil ? { validUntil: req.validUntil } : {}),
        ...(req.pattern !== undefined ? { pattern: req.pattern } : {}),
        ...(req.allowlist !== undefined ? { allowlist: req.allowlist } : {}),
      },
      actor,
    );
    return { station: await this.view(made.station), apiKey: made.key };
  }

  async update(brand: string, name: string, changes: StationUpdate, actor: Actor = OPERATOR_ACTOR): Promise<StationView> {
    const station = await this.station(brand, name);
    const { models: names, ...rest } = changes;
    const models = names ? await Promise.all(names.map((m) => this.model(brand, m))) : undefined;
    const current = await Promise.all(station.modelIds.map((id) => this.parts.models.byId(id)));
    const updated = await this.parts.admin.update(station, { ...rest, ...(models ? { models } : {}) }, current.filter((m): m is ModelRecord => m !== undefined), actor);
    return this.view(updated);
  }

  async createApiKey(brand: string, name: string, keyName: string | undefined, actor: Actor = OPERATOR_ACTOR): Promise<{ apiKey: string; prefix: string }> {
    const station = await this.station(brand, name);
    const made = await this.parts.admin.createApiKey(station, keyName ?? station.name, actor);
    return { apiKey: made.key, prefix: made.record.prefix };
  }

  private async ruleView(rule: RemodelRule): Promise<RemodelRuleView> {
    const [from, to] = await Promise.all([this.parts.models.byId(rule.fromModelId), this.parts.models.byId(rule.toModelId)]);
    return { from: from ? ref(from) : '?', to: to ? ref(to) : '?', store: rule.store ?? null, createdAt: rule.createdAt };
  }

  async allowRemodel(brand: string, from: string, to: string, store: string | undefined, actor: Actor = OPERATOR_ACTOR): Promise<RemodelRuleView> {
    const [source, target] = await Promise.all([this.model(brand, from), this.model(brand, to)]);
    if (target.brandAccountId !== brand) throw new ProvisioningError('ERR_REMODEL_NOT_ALLOWED', `a rule is made by the brand devices move to: ${ref(target)} is not of ${brand}`);
    return this.ruleView(await this.parts.rules.allow(source, target, store, actor));
  }

  async removeRemodel(brand: string, from: string, to: string, actor: Actor = OPERATOR_ACTOR): Promise<void> {
    const [source, target] = await Promise.all([this.model(brand, from), this.model(brand, to)]);
    if (!(await this.parts.rules.remove(source, target, actor))) throw new ProvisioningError('ERR_REMODEL_RULE_UNKNOWN', `no rule allows moving devices from ${ref(source)} to ${ref(target)}`);
  }

  /** Rules whose target model is the brand's (the brand receiving devices decides). */
  async remodelRules(brand: string): Promise<RemodelRuleView[]> {
    const views = await Promise.all((await this.parts.rules.list()).map((r) => this.ruleView(r)));
    return views.filter((v) => v.to.startsWith(`${brand}/`));
  }

  report(brand: string, q: Omit<ReportQuery, 'brandId'>): Promise<ReportRow[]> {
    return this.parts.stats.report({ ...q, brandId: brand });
  }
}
