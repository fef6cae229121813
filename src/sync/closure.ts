import type { Database } from '../db/database.js';
import { REPLICATED_TABLES } from '../db/replicated-tables.js';
import { entitled, type Scope } from './entitlement.js';

export type RowImage = Record<string, unknown>;

/** A row read now, shaped as change capture writes it: local columns left out. */
function image(table: string, row: Record<string, unknown>): RowImage {
  const local = REPLICATED_TABLES.find((t) => t.table === table)?.local ?? [];
  const out: RowImage = {};
  for (const [k, v] of Object.entries(row)) if (!local.includes(k)) out[k] = v;
  return out;
}

const rowsOf = async (db: Database, table: string, where: (q: ReturnType<Database>) => unknown): Promise<Array<{ table: string; row: RowImage }>> => {
  const q = db(table);
  where(q);
  return ((await q) as Record<string, unknown>[]).map((r) => ({ table, row: image(table, r) }));
};

/** A snap-revision assertion's primary key: the file's digest and its provenance. */
const revisionKey = (revision: RowImage) => `${String(revision['sha3_384'])}/${String(revision['provenance'])}`;

/** A snap with everything the store serves of it: revisions, channels, and its assertions. */
async function snapBundle(db: Database, snap: number): Promise<Array<{ table: string; row: RowImage }>> {
  const snaps = await rowsOf(db, 'snaps', (q) => q.where({ id: snap }));
  const first = snaps[0];
  if (!first) return [];
  const revisions = await rowsOf(db, 'snap_revisions', (q) => q.where({ snap }));
  const digests = revisions.map((r) => revisionKey(r.row));
  return [
    ...snaps,
    ...revisions,
    ...(await rowsOf(db, 'channel_releases', (q) => q.where({ snap }))),
    ...(await rowsOf(db, 'channel_heads', (q) => q.where({ snap }))),
    ...(await rowsOf(db, 'assertions', (q) => q.where({ type: 'snap-declaration', primary_key: `16/${String(first.row['snap_id'])}` }))),
    ...(digests.length > 0 ? await rowsOf(db, 'assertions', (q) => q.where({ type: 'snap-revision' }).whereIn('primary_key', digests)) : []),
  ];
}

/** Whether the row, before this change, was already the appliance's to see (then it holds what hangs off it). */
async function wasEntitled(db: Database, table: string, pk: string, seq: number, scope: Scope): Promise<boolean> {
  const before = (await db('sync_rows').where({ tbl: table, pk }).andWhere('seq', '<', seq).orderBy('seq', 'desc').first('op', 'image')) as { op: string; image: string } | undefined;
  if (!before) return true;
  return before.op === 'upsert' && entitled(table, JSON.parse(before.image) as RowImage, scope);
}

/**
 * What must reach the appliance with an entitled change so that what it
 * holds stays whole: the person a grant names, the assertions of a snap or
 * revision, a snap newly included by curation with all it has, and a
 * station newly the appliance's with its keys, models and allow-list. These
 * are read as they are now; applying them is idempotent.
 */
export async function closureOf(db: Database, table: string, row: RowImage, seq: number, scope: Scope): Promise<Array<{ table: string; row: RowImage }>> {
  switch (table) {
    case 'role_grants':
    case 'snap_collaborators':
      return rowsOf(db, 'people', (q) => q.where({ id: row['person_id'] }));
    case 'snaps':
      return rowsOf(db, 'assertions', (q) => q.where({ type: 'snap-declaration', primary_key: `16/${String(row['snap_id'])}` }));
    case 'snap_revisions':
      return rowsOf(db, 'assertions', (q) => q.where({ type: 'snap-revision', primary_key: revisionKey(row) }));
    case 'store_curation':
      return row['mode'] === 'include' ? snapBundle(db, Number(row['snap'])) : [];
    case 'stations': {
      const pk = JSON.stringify([row['id']]);
      if (await wasEntitled(db, 'stations', pk, seq, scope).catch(() => true)) return [];
      const station = row['id'];
      return [
        ...(await rowsOf(db, 'station_models', (q) => q.where({ station_id: station }))),
        ...(await rowsOf(db, 'api_keys', (q) => q.where({ station_id: station }))),
        ...(await rowsOf(db, 'allowlist_serials', (q) => q.where({ station_id: station }))),
      ];
    }
    default:
      return [];
  }
}
