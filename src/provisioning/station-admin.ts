import { OPERATOR_ACTOR, UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { ModelRecord } from '../catalog/models.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { ApiKeyRepository, type ApiKeyRecord } from './api-keys.js';
import { ProvisioningError } from './errors.js';
import { StationRepository, type StationChanges, type StationInput, type StationRecord } from './stations.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const invalid = (message: string) => new ProvisioningError('ERR_STATION_INVALID', message);

/** A serial pattern as a station keeps it: a regular expression the whole serial must match. */
export function compilePattern(pattern: string): RegExp {
  if (pattern.length === 0 || pattern.length > 256) throw invalid('the serial pattern must have 1 to 256 characters');
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch (e) {
    throw invalid(`the serial pattern is not a regular expression: ${(e as Error).message}`);
  }
}

function checkLimit(name: string, n: number | null | undefined): void {
  if (n !== undefined && n !== null && (!Number.isInteger(n) || n < 0)) throw invalid(`${name} must be a whole number, 0 or more, not ${n}`);
}

function checkWindow(from: Date | null | undefined, until: Date | null | undefined): void {
  for (const d of [from, until]) if (d && Number.isNaN(d.getTime())) throw invalid('validity times must be RFC 3339, e.g. 2027-01-01T00:00:00Z');
  if (from && until && until.getTime() <= from.getTime()) throw invalid(`the station's window ends (${until.toISOString()}) before it starts (${from.toISOString()})`);
}

function checkModels(brandId: string, models: readonly ModelRecord[]): void {
  if (models.length === 0) throw invalid('a station provisions at least one model: give --model BRAND/MODEL');
  const foreign = models.find((m) => m.brandAccountId !== brandId);
  if (foreign) throw invalid(`a station provisions models of one brand: ${foreign.brandAccountId}/${foreign.name} is not of ${brandId}`);
}

function checkChanges(changes: StationChanges): void {
  checkLimit('--per-hour', changes.perHour);
  checkLimit('--per-day', changes.perDay);
  checkLimit('--total', changes.total);
  if (changes.pattern) compilePattern(changes.pattern);
}

/** What an audit record says of a station: everything but its keys. */
export function stationView(s: StationRecord, models: readonly ModelRecord[]): Record<string, unknown> {
  const names = s.modelIds.map((id) => models.find((m) => m.id === id)).map((m) => (m ? `${m.brandAccountId}/${m.name}` : '?'));
  return {
    name: s.name,
    brand: s.brandId,
    models: names,
    provisioning: s.provisioning,
    validFrom: s.validFrom?.toISOString() ?? null,
    validUntil: s.validUntil?.toISOString() ?? null,
    perHour: s.limits.perHour ?? null,
    perDay: s.limits.perDay ?? null,
    total: s.limits.total ?? null,
    pattern: s.pattern ?? null,
    allowlist: s.allowlist,
    disabled: s.disabledAt !== undefined,
  };
}

/** Stations and their API keys as people change them: each change in one unit of work with its audit record. */
export class StationAdmin {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private uow() {
    return new UnitOfWork(this.db, this.clock);
  }

  /** A new station with its first API key, shown once. */
  async create(input: Omit<StationInput, 'modelIds'> & { models: readonly ModelRecord[]; keyName?: string }, actor: Actor = OPERATOR_ACTOR): Promise<{ station: StationRecord; key: string; record: ApiKeyRecord }> {
    if (!NAME.test(input.name)) throw invalid(`station name "${input.name}": use 1 to 64 lower-case letters, digits, ".", "_" and "-", starting with a letter or digit`);
    checkModels(input.brandId, input.models);
    checkWindow(input.validFrom, input.validUntil);
    checkChanges({ ...input.limits, ...(input.pattern !== undefined ? { pattern: input.pattern } : {}) });
    try {
      return await this.uow().run(actor, async (trx, record) => {
        const station = await new StationRepository(trx).create({ ...input, modelIds: input.models.map((m) => m.id) }, this.clock());
        const made = await new ApiKeyRepository(trx).create(input.models[0]!.id, input.keyName ?? station.name, station.id);
        await record({ action: 'station.create', targetType: 'station', targetId: `${station.brandId}/${station.name}`, storeId: station.brandId, before: null, after: stationView(station, input.models) });
        await record({ action: 'apikey.create', targetType: 'apikey', targetId: made.record.prefix, storeId: station.brandId, before: null, after: { station: station.name, name: made.record.name } });
        return { station, ...made };
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ProvisioningError('ERR_STATION_EXISTS', `brand ${input.brandId} already has a station named ${input.name}`);
      throw e;
    }
  }

  /** Changes a station's models, window, limits, pattern, allow-list use or provisioning method; takes effect within seconds. */
  async update(station: StationRecord, changes: StationChanges & { models?: readonly ModelRecord[] }, models: readonly ModelRecord[], actor: Actor = OPERATOR_ACTOR): Promise<StationRecord> {
    if (changes.models) checkModels(station.brandId, changes.models);
    checkChanges(changes);
    const from = changes.validFrom === undefined ? station.validFrom : changes.validFrom;
    const until = changes.validUntil === undefined ? station.validUntil : changes.validUntil;
    checkWindow(from, until);
    const { models: newModels, ...rest } = changes;
    return this.uow().run(actor, async (trx, record) => {
      const updated = await new StationRepository(trx).update(station.id, { ...rest, ...(newModels ? { modelIds: newModels.map((m) => m.id) } : {}) }, this.clock());
      const all = [...models, ...(newModels ?? [])];
      await record({ action: changes.disabled === true ? 'station.disable' : 'station.update', targetType: 'station', targetId: `${station.brandId}/${station.name}`, storeId: station.brandId, before: stationView(station, all), after: stationView(updated, all) });
      return updated;
    });
  }

  /** Another API key for a station's line (a second gadget image, a replacement for a leaked key). */
  async createApiKey(station: StationRecord, name: string, actor: Actor = OPERATOR_ACTOR): Promise<{ record: ApiKeyRecord; key: string }> {
    return this.uow().run(actor, async (trx, record) => {
      const made = await new ApiKeyRepository(trx).create(station.modelIds[0]!, name, station.id);
      await record({ action: 'apikey.create', targetType: 'apikey', targetId: made.record.prefix, storeId: station.brandId, before: null, after: { station: station.name, name } });
      return made;
    });
  }
}
