import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { AccountsError } from './errors.js';
import type { StoreKind } from './roles.js';

export interface Store {
  readonly id: string;
  readonly name: string;
  readonly brandId: number;
  readonly parentId: string | null;
  readonly kind: StoreKind;
  readonly createdAt: string;
}

const toStore = (r: Record<string, unknown>): Store => ({
  id: String(r['id']),
  name: String(r['name']),
  brandId: Number(r['brand_id']),
  parentId: r['parent_id'] === null || r['parent_id'] === undefined ? null : String(r['parent_id']),
  kind: String(r['kind']) as StoreKind,
  createdAt: String(r['created_at']),
});

/** Store ids: lower-case letters, digits and single hyphens, as in store URLs. */
export const STORE_ID = /^[a-z0-9](?:-?[a-z0-9])*$/;

export class StoreRepository {
  constructor(private readonly db: Database) {}

  async create(store: Omit<Store, 'createdAt'>): Promise<Store> {
    const row = { id: store.id, name: store.name, brand_id: store.brandId, parent_id: store.parentId, kind: store.kind, created_at: nowIso() };
    await this.db('stores').insert(row);
    return toStore(row);
  }

  async byId(id: string): Promise<Store | undefined> {
    const row = await this.db('stores').where({ id }).first();
    return row ? toStore(row) : undefined;
  }

  async require(id: string): Promise<Store> {
    const store = await this.byId(id);
    if (!store) throw new AccountsError('ERR_STORE_UNKNOWN', `no store "${id}"`);
    return store;
  }

  /** Holds the rows of `ids` until the transaction ends (PostgreSQL; SQLite serialises write transactions itself). */
  async lock(ids: readonly string[]): Promise<void> {
    if (this.db.client.config.client !== 'pg' || ids.length === 0) return;
    await this.db('stores').whereIn('id', [...ids]).orderBy('id').forUpdate().select('id');
  }

  async rename(id: string, name: string): Promise<void> {
    await this.db('stores').where({ id }).update({ name });
  }

  /** Every store: trees are small (tens to hundreds of stores), and each check needs the whole chain. */
  async all(): Promise<Store[]> {
    return (await this.db('stores').orderBy('id')).map(toStore);
  }

  async tree(): Promise<StoreTree> {
    return new StoreTree(await this.all());
  }
}

/** The store hierarchy in memory, for walking up (inheritance) and down (listing). */
export class StoreTree {
  private readonly byId = new Map<string, Store>();
  private readonly children = new Map<string, Store[]>();

  constructor(readonly stores: readonly Store[]) {
    for (const s of stores) this.byId.set(s.id, s);
    for (const s of stores) {
      if (s.parentId === null) continue;
      const list = this.children.get(s.parentId) ?? [];
      list.push(s);
      this.children.set(s.parentId, list);
    }
  }

  get(id: string): Store | undefined {
    return this.byId.get(id);
  }

  childrenOf(id: string): readonly Store[] {
    return this.children.get(id) ?? [];
  }

  /**
   * The stores whose grants reach `id`: the store itself, then its parents
   * for as long as the link is a product sub-store's. An ecosystem store (or
   * the brand store) ends the chain: grants above it do not reach it.
   */
  grantChain(id: string): Store[] {
    const chain: Store[] = [];
    let cur = this.byId.get(id);
    while (cur) {
      chain.push(cur);
      if (cur.kind !== 'product' || cur.parentId === null) break;
      cur = this.byId.get(cur.parentId);
    }
    return chain;
  }

  /** `id` and everything below it, depth first. */
  subtree(id: string): Store[] {
    const out: Store[] = [];
    const visit = (s: Store | undefined) => {
      if (!s) return;
      out.push(s);
      for (const c of this.childrenOf(s.id)) visit(c);
    };
    visit(this.byId.get(id));
    return out;
  }
}
