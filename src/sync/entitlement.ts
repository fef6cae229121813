import type { Database } from '../db/database.js';
import type { ApplianceContext } from './upstream.js';

/**
 * What one appliance may see of central's replicated rows: its brand, its
 * store's subtree (and the stores above it, which the subtree's rows name),
 * the people granted roles there, the snaps offered there with their
 * revisions and assertions, the brand's models and keys, and the brand's
 * stations that are its own or no appliance's. Nothing of another brand or
 * another appliance's stations goes out.
 */
export interface Scope {
  readonly appliance: ApplianceContext;
  /** The subtree and the stores above it: their grants, curation, pins and policies go to the appliance. */
  readonly stores: ReadonlySet<string>;
  /** Those, and the stores snaps curated into them come from: store rows only. */
  readonly storeRows: ReadonlySet<string>;
  readonly people: ReadonlySet<number>;
  readonly snaps: ReadonlySet<number>;
  readonly snapIds: ReadonlySet<string>;
  readonly revisionDigests: ReadonlySet<string>;
  readonly models: ReadonlySet<number>;
  readonly stations: ReadonlySet<number>;
}

const ids = (rows: unknown[], column: string) => rows.map((r) => (r as Record<string, unknown>)[column]);

/** The stores of the subtree under `storeId`, and the ones above it. */
async function visibleStores(db: Database, brandId: number, storeId: string): Promise<{ visible: Set<string>; withAncestors: (id: string, into?: Set<string>) => void }> {
  const all = (await db('stores').where({ brand_id: brandId }).select('id', 'parent_id')) as Array<{ id: string; parent_id: string | null }>;
  const parent = new Map(all.map((s) => [s.id, s.parent_id]));
  const visible = new Set<string>();
  const withAncestors = (id: string, into: Set<string> = visible) => {
    for (let s: string | null | undefined = id, hops = 0; s && hops < 64; s = parent.get(s), hops++) into.add(s);
  };
  withAncestors(storeId);
  for (const s of all) if (isBelow(s.id, storeId, parent)) visible.add(s.id);
  return { visible, withAncestors };
}

function isBelow(id: string, root: string, parent: Map<string, string | null>): boolean {
  for (let s: string | null | undefined = id, hops = 0; s && hops < 64; s = parent.get(s), hops++) if (s === root) return true;
  return false;
}

export async function loadScope(db: Database, appliance: ApplianceContext): Promise<Scope> {
  const { visible: stores, withAncestors } = await visibleStores(db, appliance.brandId, appliance.storeId);
  const storeList = [...stores];
  const people = new Set(
    [
      ...ids(await db('role_grants').whereIn('store_id', storeList).distinct('person_id'), 'person_id'),
      ...ids(await db('snap_collaborators').whereIn('store_id', storeList).distinct('person_id'), 'person_id'),
    ].map(Number),
  );
  const own = (await db('snaps').whereIn('store_id', storeList).select('id', 'snap_id')) as Array<{ id: number; snap_id: string }>;
  const curated = (await db('store_curation as c').join('snaps as s', 's.id', 'c.snap').whereIn('c.store_id', storeList).select('s.id', 's.snap_id', 's.store_id')) as Array<{ id: number; snap_id: string; store_id: string }>;
  // A snap curated in from another store names that store: its row goes too (the snap's foreign key needs it).
  const storeRows = new Set(stores);
  for (const c of curated) withAncestors(c.store_id, storeRows);
  const snapRows = [...own, ...curated];
  const snaps = new Set(snapRows.map((s) => Number(s.id)));
  const revisionDigests = new Set<string>();
  for (let i = 0; i < snapRows.length; i += 500) {
    const page = snapRows.slice(i, i + 500).map((s) => s.id);
    for (const r of (await db('snap_revisions').whereIn('snap', page).select('sha3_384')) as Array<{ sha3_384: string }>) revisionDigests.add(r.sha3_384);
  }
  const models = new Set(ids(await db('models').where({ brand_id: appliance.brandId }).select('id'), 'id').map(Number));
  const stations = new Set(
    ids(
      await db('stations')
        .where({ brand_id: appliance.brandAccountId })
        .andWhere((q) => q.whereNull('appliance').orWhere({ appliance: appliance.name }))
        .select('id'),
      'id',
    ).map(Number),
  );
  return { appliance, stores, storeRows, people, snaps, snapIds: new Set(snapRows.map((s) => s.snap_id)), revisionDigests, models, stations };
}

/** Whether a change to `table` touches what decides the scope itself: the appliance then takes a new snapshot. */
export const SCOPE_TABLES: ReadonlySet<string> = new Set(['stores', 'store_curation', 'stations', 'role_grants', 'snap_collaborators']);

type Row = Readonly<Record<string, unknown>>;
const n = (v: unknown) => Number(v);

const FILTERS: Readonly<Record<string, (row: Row, scope: Scope) => boolean>> = {
  brands: (r, s) => n(r['id']) === s.appliance.brandId,
  stores: (r, s) => s.storeRows.has(String(r['id'])),
  people: (r, s) => s.people.has(n(r['id'])),
  role_grants: (r, s) => s.stores.has(String(r['store_id'])),
  snap_collaborators: (r, s) => s.stores.has(String(r['store_id'])),
  assertions: (r, s) => assertionEntitled(String(r['type']), String(r['primary_key']), s),
  // Public halves only, and never central's audit key; another appliance's keys verify its serials.
  signing_keys: (r, s) => r['purpose'] !== 'audit' && (r['brand_id'] === null || r['brand_id'] === undefined || n(r['brand_id']) === s.appliance.brandId),
  models: (r, s) => n(r['brand_id']) === s.appliance.brandId,
  model_serial_keys: (r, s) => s.models.has(n(r['model_id'])),
  remodel_rules: (r, s) => s.models.has(n(r['from_model_id'])) && s.models.has(n(r['to_model_id'])),
  stations: (r, s) => r['brand_id'] === s.appliance.brandAccountId && (r['appliance'] === null || r['appliance'] === undefined || r['appliance'] === s.appliance.name),
  station_models: (r, s) => s.stations.has(n(r['station_id'])),
  api_keys: (r, s) => r['station_id'] !== null && r['station_id'] !== undefined && s.stations.has(n(r['station_id'])),
  allowlist_serials: (r, s) => s.stations.has(n(r['station_id'])),
  snaps: (r, s) => s.snaps.has(n(r['id'])),
  snap_revisions: (r, s) => s.snaps.has(n(r['snap'])),
  channel_releases: (r, s) => s.snaps.has(n(r['snap'])),
  channel_heads: (r, s) => s.snaps.has(n(r['snap'])),
  store_policies: (r, s) => s.stores.has(String(r['store_id'])),
  store_curation: (r, s) => s.stores.has(String(r['store_id'])),
  store_pins: (r, s) => s.stores.has(String(r['store_id'])),
};

function assertionEntitled(type: string, key: string, s: Scope): boolean {
  switch (type) {
    case 'account':
    case 'account-key':
    case 'store':
      return true;
    case 'model':
      return key.startsWith(`16/${s.appliance.brandAccountId}/`);
    case 'snap-declaration':
      return s.snapIds.has(key.slice(key.indexOf('/') + 1));
    case 'snap-revision':
      // Its primary key is the digest and the provenance.
      return s.revisionDigests.has(key.split('/')[0]!);
    case 'system-user':
      return key.startsWith(`${s.appliance.brandAccountId}/`);
    default:
      return false;
  }
}

/** Whether the appliance may see the row (as it is, or as it was before a delete). */
export function entitled(table: string, row: Row, scope: Scope): boolean {
  const filter = FILTERS[table];
  return filter !== undefined && filter(row, scope);
}
