import type { Database } from '../db/database.js';
import { SCOPE_TABLES, loadScope, type Scope } from './entitlement.js';
import type { ApplianceContext } from './upstream.js';

type MutableScope = Scope & { readonly snaps: Set<number>; readonly snapIds: Set<string>; readonly revisionDigests: Set<string> };

/**
 * Each appliance's scope, kept between its pulls. Loading one reads every
 * revision digest of its snaps, so a replica keeps it and follows the feed
 * instead: new snaps and revisions of entitled stores are added as they
 * pass, and a change to what decides the scope (stores, curation, stations,
 * grants, models) loads it again. Any replica can serve any pull: each
 * catches up from the feed itself, from where its copy was last brought.
 */
export class ScopeCache {
  private readonly entries = new Map<number, { scope: MutableScope; head: number }>();

  constructor(private readonly db: Database) {}

  /** The scope as of feed sequence `upto` or later. */
  async get(appliance: ApplianceContext, upto: number): Promise<Scope> {
    const entry = this.entries.get(appliance.id);
    if (entry && sameAppliance(entry.scope.appliance, appliance)) {
      if (entry.head >= upto) return entry.scope;
      const changed = (await this.db('sync_rows')
        .where('seq', '>', entry.head)
        .andWhere('seq', '<=', upto)
        .whereIn('tbl', [...SCOPE_TABLES, 'snaps', 'snap_revisions'])
        .orderBy('seq')
        .select('tbl', 'op', 'image')) as Array<{ tbl: string; op: string; image: string }>;
      if (!changed.some((c) => SCOPE_TABLES.has(c.tbl))) {
        for (const c of changed) follow(entry.scope, c.tbl, c.op, JSON.parse(c.image) as Record<string, unknown>);
        entry.head = upto;
        return entry.scope;
      }
    }
    const head = await feedHead(this.db);
    const scope = (await loadScope(this.db, appliance)) as MutableScope;
    this.entries.set(appliance.id, { scope, head });
    return scope;
  }

  forget(applianceId: number): void {
    this.entries.delete(applianceId);
  }
}

const sameAppliance = (a: ApplianceContext, b: ApplianceContext) => a.storeId === b.storeId && a.brandId === b.brandId && a.name === b.name;

/** A new snap in an entitled store, or a new revision of an entitled snap, joins the scope. */
function follow(scope: MutableScope, table: string, op: string, row: Record<string, unknown>): void {
  if (op !== 'upsert') return;
  if (table === 'snaps' && scope.stores.has(String(row['store_id']))) {
    scope.snaps.add(Number(row['id']));
    scope.snapIds.add(String(row['snap_id']));
  }
  if (table === 'snap_revisions' && scope.snaps.has(Number(row['snap']))) scope.revisionDigests.add(String(row['sha3_384']));
}

/** The last sequence number the feed holds (0 when it is empty). */
export async function feedHead(db: Database): Promise<number> {
  const row = (await db('sync_rows').max('seq as seq').first()) as { seq?: unknown } | undefined;
  return Number(row?.seq ?? 0);
}
