import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { hashSecret, matchesHash } from '../db/hashed-secrets.js';

export interface ApiKeyRecord {
  readonly id: number;
  /** The model it was made for (its station may provision others too). */
  readonly modelId: number;
  /** The factory line it belongs to. */
  readonly stationId: number;
  readonly name: string;
  readonly prefix: string;
}

const toKey = (r: Record<string, unknown>): ApiKeyRecord => ({ id: Number(r['id']), modelId: Number(r['model_id']), stationId: Number(r['station_id']), name: String(r['name']), prefix: String(r['prefix']) });

/**
 * API keys for factory lines and device fleets, one or more per model. The
 * key is `sv_<prefix>_<secret>`: the prefix finds the row, the secret is
 * kept only as a SHA-256 hash (it has 192 bits of entropy, so no slow hash
 * is needed) and compared in constant time. Shown once, at creation.
 */
export class ApiKeyRepository {
  constructor(private readonly db: Database) {}

  /** A new key of a station (by default the model's own station, named after the model, made with no limits). */
  async create(modelId: number, name: string, stationId?: number): Promise<{ record: ApiKeyRecord; key: string }> {
    const station = stationId ?? (await this.modelStation(modelId));
    const prefix = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    const [row] = await this.db('api_keys').insert({ model_id: modelId, station_id: station, name, prefix, hash: hashSecret(secret), created_at: nowIso() }).returning('id');
    const id = typeof row === 'object' ? (row as { id: number }).id : (row as number);
    return { record: { id, modelId, stationId: station, name, prefix }, key: `sv_${prefix}_${secret}` };
  }

  /** The station named after a model that provisions only it; made on first use. */
  private async modelStation(modelId: number): Promise<number> {
    const model = (await this.db('models').join('brands', 'brands.id', 'models.brand_id').where({ 'models.id': modelId }).first('models.name', 'brands.account_id')) as { name: string; account_id: string } | undefined;
    if (!model) throw new Error(`no model ${modelId}`);
    const existing = (await this.db('stations').where({ brand_id: model.account_id, name: model.name }).first('id')) as { id: number } | undefined;
    if (existing) return Number(existing.id);
    // The station and its model together: a process killed between the two must not leave a station of no model.
    return this.db.transaction(async (trx) => {
      const [row] = await trx('stations').insert({ brand_id: model.account_id, name: model.name, created_at: nowIso() }).returning('id');
      const id = Number(typeof row === 'object' ? (row as { id: number }).id : row);
      await trx('station_models').insert({ station_id: id, model_id: modelId });
      return id;
    });
  }

  /** The key's record when `key` is a valid, unrevoked API key; undefined otherwise. */
  async verify(key: string | undefined): Promise<ApiKeyRecord | undefined> {
    const m = /^sv_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(key ?? '');
    if (!m) return undefined;
    const row = await this.db('api_keys').where({ prefix: m[1] }).whereNull('revoked_at').first();
    if (!row) return undefined;
    if (!matchesHash(m[2] as string, String(row.hash))) return undefined;
    return toKey(row);
  }

  async revoke(prefix: string): Promise<boolean> {
    return (await this.db('api_keys').where({ prefix }).whereNull('revoked_at').update({ revoked_at: nowIso() })) > 0;
  }

  async list(filter: { modelId?: number; stationId?: number } = {}): Promise<(ApiKeyRecord & { revoked: boolean })[]> {
    const q = this.db('api_keys').orderBy('id');
    if (filter.modelId !== undefined) q.where({ model_id: filter.modelId });
    if (filter.stationId !== undefined) q.where({ station_id: filter.stationId });
    return (await q).map((r) => ({ ...toKey(r), revoked: r.revoked_at !== null }));
  }
}
