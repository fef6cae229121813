import type { ProvisioningMethod } from '../catalog/models.js';
import type { Database } from '../db/database.js';
import { bool, nowIso } from '../db/errors.js';

export interface StationLimits {
  readonly perHour?: number;
  readonly perDay?: number;
  readonly total?: number;
}

/** A factory line: whose API keys may provision which models, when, how many, and which serials. */
export interface StationRecord {
  readonly id: number;
  /** The brand's account id. */
  readonly brandId: string;
  readonly name: string;
  readonly provisioning: ProvisioningMethod;
  readonly modelIds: readonly number[];
  readonly validFrom: Date | undefined;
  readonly validUntil: Date | undefined;
  readonly limits: StationLimits;
  /** A regular expression every serial must match in full. */
  readonly pattern: string | undefined;
  /** Only serials on the station's allow-list are issued. */
  readonly allowlist: boolean;
  readonly disabledAt: Date | undefined;
  readonly createdAt: Date;
}

export interface StationInput {
  readonly brandId: string;
  readonly name: string;
  readonly modelIds: readonly number[];
  readonly provisioning?: ProvisioningMethod;
  readonly validFrom?: Date;
  readonly validUntil?: Date;
  readonly limits?: StationLimits;
  readonly pattern?: string;
  readonly allowlist?: boolean;
}

/** What can change on a station; `null` clears a value. */
export interface StationChanges {
  readonly modelIds?: readonly number[];
  readonly provisioning?: ProvisioningMethod;
  readonly validFrom?: Date | null;
  readonly validUntil?: Date | null;
  readonly perHour?: number | null;
  readonly perDay?: number | null;
  readonly total?: number | null;
  readonly pattern?: string | null;
  readonly allowlist?: boolean;
  readonly disabled?: boolean;
}

const optionalDate = (v: unknown) => (v === null || v === undefined ? undefined : new Date(String(v)));
const optionalNumber = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

function toStation(r: Record<string, unknown>, modelIds: readonly number[]): StationRecord {
  const perHour = optionalNumber(r['per_hour']);
  const perDay = optionalNumber(r['per_day']);
  const total = optionalNumber(r['total']);
  return {
    id: Number(r['id']),
    brandId: String(r['brand_id']),
    name: String(r['name']),
    provisioning: r['provisioning'] === 'hardware-identity' ? 'hardware-identity' : 'api-key',
    modelIds,
    validFrom: optionalDate(r['valid_from']),
    validUntil: optionalDate(r['valid_until']),
    limits: { ...(perHour !== undefined ? { perHour } : {}), ...(perDay !== undefined ? { perDay } : {}), ...(total !== undefined ? { total } : {}) },
    pattern: (r['pattern'] as string | null) ?? undefined,
    allowlist: bool(r['allowlist']),
    disabledAt: optionalDate(r['disabled_at']),
    createdAt: new Date(String(r['created_at'])),
  };
}

const iso = (d: Date | null | undefined) => (d ? nowIso(d) : null);

/** Stations and the models each may provision. */
export class StationRepository {
  constructor(private readonly db: Database) {}

  private async withModels(rows: Record<string, unknown>[]): Promise<StationRecord[]> {
    if (rows.length === 0) return [];
    const links = (await this.db('station_models').whereIn('station_id', rows.map((r) => Number(r['id']))).orderBy(['station_id', 'model_id'])) as Array<{ station_id: number; model_id: number }>;
    return rows.map((r) => toStation(r, links.filter((l) => Number(l.station_id) === Number(r['id'])).map((l) => Number(l.model_id))));
  }

  async byId(id: number): Promise<StationRecord | undefined> {
    const row = await this.db('stations').where({ id }).first();
    return row ? (await this.withModels([row]))[0] : undefined;
  }

  async byName(brandId: string, name: string): Promise<StationRecord | undefined> {
    const row = await this.db('stations').where({ brand_id: brandId, name }).first();
    return row ? (await this.withModels([row]))[0] : undefined;
  }

  async list(brandId?: string): Promise<StationRecord[]> {
    const q = this.db('stations').orderBy(['brand_id', 'name']);
    if (brandId !== undefined) q.where({ brand_id: brandId });
    return this.withModels(await q);
  }

  /** Stations that may provision a model. */
  async ofModel(modelId: number): Promise<StationRecord[]> {
    const rows = await this.db('stations').join('station_models', 'station_models.station_id', 'stations.id').where({ 'station_models.model_id': modelId }).select('stations.*').orderBy('stations.name');
    return this.withModels(rows);
  }

  async create(input: StationInput, at: Date): Promise<StationRecord> {
    const [row] = await this.db('stations')
      .insert({
        brand_id: input.brandId,
        name: input.name,
        provisioning: input.provisioning ?? 'api-key',
        valid_from: iso(input.validFrom),
        valid_until: iso(input.validUntil),
        per_hour: input.limits?.perHour ?? null,
        per_day: input.limits?.perDay ?? null,
        total: input.limits?.total ?? null,
        pattern: input.pattern ?? null,
        allowlist: input.allowlist ?? false,
        created_at: nowIso(at),
      })
      .returning('id');
    const id = typeof row === 'object' ? (row as { id: number }).id : (row as number);
    await this.db('station_models').insert(input.modelIds.map((model_id) => ({ station_id: id, model_id })));
    return (await this.byId(id)) as StationRecord;
  }

  async update(id: number, changes: StationChanges, at: Date): Promise<StationRecord> {
    const values: Record<string, unknown> = {};
    if (changes.provisioning !== undefined) values['provisioning'] = changes.provisioning;
    if (changes.validFrom !== undefined) values['valid_from'] = iso(changes.validFrom);
    if (changes.validUntil !== undefined) values['valid_until'] = iso(changes.validUntil);
    if (changes.perHour !== undefined) values['per_hour'] = changes.perHour;
    if (changes.perDay !== undefined) values['per_day'] = changes.perDay;
    if (changes.total !== undefined) values['total'] = changes.total;
    if (changes.pattern !== undefined) values['pattern'] = changes.pattern;
    if (changes.allowlist !== undefined) values['allowlist'] = changes.allowlist;
    if (changes.disabled !== undefined) values['disabled_at'] = changes.disabled ? nowIso(at) : null;
    if (Object.keys(values).length > 0) await this.db('stations').where({ id }).update(values);
    if (changes.modelIds) {
      await this.db('station_models').where({ station_id: id }).delete();
      await this.db('station_models').insert(changes.modelIds.map((model_id) => ({ station_id: id, model_id })));
    }
    return (await this.byId(id)) as StationRecord;
  }
}
