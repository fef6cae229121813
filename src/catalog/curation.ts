import type { Database } from '../db/database.js';
import { bool, nowIso } from '../db/errors.js';

export type CurationMode = 'include' | 'exclude';

export interface CurationRow {
  readonly storeId: string;
  readonly snapPk: number;
  readonly mode: CurationMode;
}

export interface PinRow {
  readonly storeId: string;
  readonly snapPk: number;
  readonly channel: string;
  readonly revision: number;
}

/** Each store's choices over what it offers: includes, excludes, pinned revisions, and its review policy. */
export class CurationRepository {
  constructor(private readonly db: Database) {}

  async set(storeId: string, snapPk: number, mode: CurationMode | null, by: string): Promise<void> {
    await this.db('store_curation').where({ store_id: storeId, snap: snapPk }).delete();
    if (mode) await this.db('store_curation').insert({ store_id: storeId, snap: snapPk, mode, created_by: by, created_at: nowIso() });
  }

  async forSnaps(storeIds: readonly string[], snapPks: readonly number[]): Promise<CurationRow[]> {
    if (snapPks.length === 0) return [];
    const rows = await this.db('store_curation').whereIn('store_id', [...storeIds]).whereIn('snap', [...snapPks]);
    return rows.map((r) => ({ storeId: String(r.store_id), snapPk: Number(r.snap), mode: String(r.mode) as CurationMode }));
  }

  /** Every include and exclude these stores have made. */
  async forStores(storeIds: readonly string[]): Promise<CurationRow[]> {
    const rows = await this.db('store_curation').whereIn('store_id', [...storeIds]);
    return rows.map((r) => ({ storeId: String(r.store_id), snapPk: Number(r.snap), mode: String(r.mode) as CurationMode }));
  }

  async pin(storeId: string, snapPk: number, channel: string, revision: number | null): Promise<void> {
    await this.db('store_pins').where({ store_id: storeId, snap: snapPk, channel }).delete();
    if (revision !== null) await this.db('store_pins').insert({ store_id: storeId, snap: snapPk, channel, revision });
  }

  async pinsFor(storeIds: readonly string[], snapPks: readonly number[]): Promise<PinRow[]> {
    if (snapPks.length === 0) return [];
    const rows = await this.db('store_pins').whereIn('store_id', [...storeIds]).whereIn('snap', [...snapPks]);
    return rows.map((r) => ({ storeId: String(r.store_id), snapPk: Number(r.snap), channel: String(r.channel), revision: Number(r.revision) }));
  }

  /** Every pin these stores have set. */
  async pinsForStores(storeIds: readonly string[]): Promise<PinRow[]> {
    const rows = await this.db('store_pins').whereIn('store_id', [...storeIds]);
    return rows.map((r) => ({ storeId: String(r.store_id), snapPk: Number(r.snap), channel: String(r.channel), revision: Number(r.revision) }));
  }

  async reviewRequired(storeId: string): Promise<boolean> {
    const row = await this.db('store_policies').where({ store_id: storeId }).first();
    return row ? bool(row.review_required) : false;
  }

  async setReviewRequired(storeId: string, required: boolean): Promise<void> {
    await this.db('store_policies').insert({ store_id: storeId, review_required: required }).onConflict('store_id').merge(['review_required']);
  }
}
