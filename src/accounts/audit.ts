import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';

export interface AuditEntry {
  readonly id: number;
  readonly at: string;
  /** The person's email, or `operator` for the local command line. */
  readonly actor: string;
  readonly actorKind: 'person' | 'operator';
  readonly via: 'session' | 'token' | 'cli';
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly storeId: string | null;
  readonly clientAddress: string | null;
  readonly before: unknown;
  readonly after: unknown;
}

export type AuditRecord = Omit<AuditEntry, 'id' | 'at'>;

const parse = (v: unknown) => (v === null || v === undefined ? null : (JSON.parse(String(v)) as unknown));

const toEntry = (r: Record<string, unknown>): AuditEntry => ({
  id: Number(r['id']),
  at: String(r['at']),
  actor: String(r['actor']),
  actorKind: String(r['actor_kind']) as AuditEntry['actorKind'],
  via: String(r['via']) as AuditEntry['via'],
  action: String(r['action']),
  targetType: String(r['target_type']),
  targetId: String(r['target_id']),
  storeId: r['store_id'] === null ? null : String(r['store_id']),
  clientAddress: r['client_address'] === null ? null : String(r['client_address']),
  before: parse(r['before']),
  after: parse(r['after']),
});

/**
 * Who changed what, when, from where, with the state before and after.
 * Written in the transaction of the change it describes; the table refuses
 * updates and deletes (database triggers), so this class only appends.
 */
export class AuditLog {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async append(record: AuditRecord): Promise<void> {
    await this.db('audit_log').insert({
      at: nowIso(this.clock()),
      actor: record.actor,
      actor_kind: record.actorKind,
      via: record.via,
      action: record.action,
      target_type: record.targetType,
      target_id: record.targetId,
      store_id: record.storeId,
      client_address: record.clientAddress,
      before: record.before === null || record.before === undefined ? null : JSON.stringify(record.before),
      after: record.after === null || record.after === undefined ? null : JSON.stringify(record.after),
    });
  }

  /** Newest first; `beforeId` pages back. */
  async list(filter: { storeIds?: readonly string[]; beforeId?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    const q = this.db('audit_log').orderBy('id', 'desc').limit(filter.limit ?? 100);
    if (filter.storeIds) q.whereIn('store_id', [...filter.storeIds]);
    if (filter.beforeId !== undefined) q.where('id', '<', filter.beforeId);
    return (await q).map(toEntry);
  }
}
