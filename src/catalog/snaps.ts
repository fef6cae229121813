import type { Database } from '../db/database.js';
import { bool, nowIso } from '../db/errors.js';
import { CatalogError } from './errors.js';
import type { SnapType, SnapYaml } from './snap-yaml.js';

export interface SnapRecord {
  readonly pk: number;
  /** The 32-character id of the snap-declaration. */
  readonly snapId: string;
  readonly name: string;
  /** The store that owns the name. */
  readonly storeId: string;
  readonly type: SnapType;
  readonly private: boolean;
  /** The person who registered it (email), or `operator`. */
  readonly publisher: string;
  /** The account the snap's assertions name as publisher and developer. */
  readonly publisherId: string;
  readonly collaborators: readonly string[];
  readonly createdAt: string;
}

export type ReviewStatus = 'needs-review' | 'approved' | 'rejected';

export interface RevisionRecord {
  readonly snapPk: number;
  readonly revision: number;
  readonly sha3_384: string;
  readonly size: number;
  readonly version: string;
  readonly architectures: readonly string[];
  readonly grade: 'stable' | 'devel';
  readonly confinement: string;
  readonly base: string | null;
  readonly epoch: string;
  readonly provenance: string;
  readonly snapYaml: string;
  readonly status: ReviewStatus;
  readonly uploadedBy: string;
  readonly uploadId: string | null;
  readonly reviewedBy: string | null;
  readonly reviewReason: string | null;
  readonly createdAt: string;
  readonly reviewedAt: string | null;
}

export const toSnap = (r: Record<string, unknown>): SnapRecord => ({
  pk: Number(r['id']),
  snapId: String(r['snap_id']),
  name: String(r['name']),
  storeId: String(r['store_id']),
  type: String(r['type']) as SnapType,
  private: bool(r['private']),
  publisher: String(r['publisher']),
  publisherId: String(r['publisher_id']),
  collaborators: JSON.parse(String(r['collaborators'])) as string[],
  createdAt: String(r['created_at']),
});

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

export const toRevision = (r: Record<string, unknown>): RevisionRecord => ({
  snapPk: Number(r['snap']),
  revision: Number(r['revision']),
  sha3_384: String(r['sha3_384']),
  size: Number(r['size']),
  version: String(r['version']),
  architectures: JSON.parse(String(r['architectures'])) as string[],
  grade: String(r['grade']) as 'stable' | 'devel',
  confinement: String(r['confinement']),
  base: str(r['base']),
  epoch: String(r['epoch']),
  provenance: String(r['provenance']),
  snapYaml: String(r['snap_yaml']),
  status: String(r['status']) as ReviewStatus,
  uploadedBy: String(r['uploaded_by']),
  uploadId: str(r['upload_id']),
  reviewedBy: str(r['reviewed_by']),
  reviewReason: str(r['review_reason']),
  createdAt: String(r['created_at']),
  reviewedAt: str(r['reviewed_at']),
});

/** Snap names, their uploads and revisions. */
export class SnapRepository {
  constructor(private readonly db: Database) {}

  async create(s: Omit<SnapRecord, 'pk' | 'createdAt'>): Promise<SnapRecord> {
    const row = {
      snap_id: s.snapId,
      name: s.name,
      store_id: s.storeId,
      type: s.type,
      private: s.private,
      publisher: s.publisher,
      publisher_id: s.publisherId,
      collaborators: JSON.stringify(s.collaborators),
      created_at: nowIso(),
    };
    const [id] = await this.db('snaps').insert(row).returning('id');
    return toSnap({ ...row, id: typeof id === 'object' ? (id as { id: number }).id : id });
  }

  async byName(name: string): Promise<SnapRecord | undefined> {
    const row = await this.db('snaps').where({ name }).first();
    return row ? toSnap(row) : undefined;
  }

  async require(name: string): Promise<SnapRecord> {
    const snap = await this.byName(name);
    if (!snap) throw new CatalogError('ERR_SNAP_UNKNOWN', `no snap "${name}" is registered`);
    return snap;
  }

  async byNames(names: readonly string[]): Promise<SnapRecord[]> {
    return names.length === 0 ? [] : (await this.db('snaps').whereIn('name', [...names])).map(toSnap);
  }

  async bySnapIds(ids: readonly string[]): Promise<SnapRecord[]> {
    return ids.length === 0 ? [] : (await this.db('snaps').whereIn('snap_id', [...ids])).map(toSnap);
  }

  async byPks(pks: readonly number[]): Promise<SnapRecord[]> {
    return pks.length === 0 ? [] : (await this.db('snaps').whereIn('id', [...pks])).map(toSnap);
  }

  async inStores(storeIds: readonly string[]): Promise<SnapRecord[]> {
    return (await this.db('snaps').whereIn('store_id', [...storeIds]).orderBy('name')).map(toSnap);
  }

  async setCollaborators(pk: number, emails: readonly string[]): Promise<void> {
    await this.db('snaps').where({ id: pk }).update({ collaborators: JSON.stringify(emails) });
  }

  async addUpload(id: string, sha3_384: string, size: number, by: string): Promise<void> {
    await this.db('snap_uploads').insert({ id, sha3_384, size, created_by: by, created_at: nowIso() });
  }

  async upload(id: string): Promise<{ sha3_384: string; size: number; createdBy: string } | undefined> {
    const row = await this.db('snap_uploads').where({ id }).first();
    return row ? { sha3_384: String(row.sha3_384), size: Number(row.size), createdBy: String(row.created_by) } : undefined;
  }

  async revisionByDigest(snapPk: number, sha3_384: string): Promise<RevisionRecord | undefined> {
    const row = await this.db('snap_revisions').where({ snap: snapPk, sha3_384 }).first();
    return row ? toRevision(row) : undefined;
  }

  async revision(snapPk: number, revision: number): Promise<RevisionRecord | undefined> {
    const row = await this.db('snap_revisions').where({ snap: snapPk, revision }).first();
    return row ? toRevision(row) : undefined;
  }

  async requireRevision(snap: SnapRecord, revision: number): Promise<RevisionRecord> {
    const r = await this.revision(snap.pk, revision);
    if (!r) throw new CatalogError('ERR_REVISION_UNKNOWN', `snap "${snap.name}" has no revision ${revision}`);
    return r;
  }

  async revisions(snapPk: number): Promise<RevisionRecord[]> {
    return (await this.db('snap_revisions').where({ snap: snapPk }).orderBy('revision', 'desc')).map(toRevision);
  }

  /** Adds the next revision of the snap (numbers are per snap, 1, 2, 3, …). */
  async addRevision(snapPk: number, yaml: SnapYaml, blob: { sha3_384: string; size: number }, status: ReviewStatus, by: string, uploadId: string | null, number?: number): Promise<RevisionRecord> {
    const last = number === undefined ? await this.db('snap_revisions').where({ snap: snapPk }).max({ n: 'revision' }).first() : undefined;
    const row = {
      snap: snapPk,
      // Imported revisions keep the number their store gave them.
      revision: number ?? Number(last?.n ?? 0) + 1,
      sha3_384: blob.sha3_384,
      size: blob.size,
      version: yaml.version,
      architectures: JSON.stringify(yaml.architectures),
      grade: yaml.grade,
      confinement: yaml.confinement,
      base: yaml.base,
      epoch: yaml.epoch,
      provenance: yaml.provenance,
      snap_yaml: yaml.text,
      status,
      uploaded_by: by,
      upload_id: uploadId,
      reviewed_by: null,
      review_reason: null,
      created_at: nowIso(),
      reviewed_at: null,
    };
    await this.db('snap_revisions').insert(row);
    return toRevision(row);
  }

  async review(snapPk: number, revision: number, status: 'approved' | 'rejected', by: string, reason: string | null): Promise<void> {
    await this.db('snap_revisions').where({ snap: snapPk, revision }).update({ status, reviewed_by: by, review_reason: reason, reviewed_at: nowIso() });
  }
}
