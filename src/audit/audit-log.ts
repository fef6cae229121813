import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { rowsInOrder } from '../db/pages.js';
import { ChainWalker, GENESIS, chainedFieldsOf, entryHash, type ChainRow, type ChainVerdict } from './chain.js';

export interface AuditEntry {
  readonly id: number;
  /** The entry's place in the hash chain: 1, 2, 3, … with no gaps. */
  readonly seq: number;
  readonly at: string;
  /** The person's email, or `operator` for the local command line. */
  readonly actor: string;
  readonly actorKind: 'person' | 'operator';
  /** How the change came: a browser session, an access token, the command line, or the store listener on its own (first-use signing). */
  readonly via: 'session' | 'token' | 'cli' | 'store';
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly storeId: string | null;
  readonly clientAddress: string | null;
  readonly before: unknown;
  readonly after: unknown;
}

export type AuditRecord = Omit<AuditEntry, 'id' | 'seq' | 'at'>;

const parse = (v: unknown) => (v === null || v === undefined ? null : (JSON.parse(String(v)) as unknown));

const toEntry = (r: Record<string, unknown>): AuditEntry => ({
  id: Number(r['id']),
  seq: Number(r['seq']),
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

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
const toChainRow = (r: Record<string, unknown>): ChainRow => ({ ...chainedFieldsOf(r), prevHash: String(r['prev_hash']), hash: String(r['hash']) });

/**
 * Who changed what, when, from where, with the state before and after.
 * Written in the transaction of the change it describes, with the outbox
 * row that announces the change to the feed. Entries form a hash chain
 * (`chain.ts`) whose head, one row of `audit_head`, is taken with a write
 * first, so concurrent changes are chained one after another on both
 * databases. The table refuses updates and deletes (database triggers).
 */
export class AuditLog {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Must run inside the change's transaction. */
  async append(record: AuditRecord): Promise<void> {
    // The increment is the first write: it locks the head (PostgreSQL row lock, SQLite's write lock).
    const [head] = (await this.db('audit_head').where({ name: 'audit' }).increment('seq', 1).returning(['seq', 'hash'])) as Array<{ seq: number | string; hash: string }>;
    if (!head) throw new Error('the audit log has no head row: migrations are incomplete');
    const fields = {
      seq: Number(head.seq),
      at: nowIso(this.clock()),
      actor: record.actor,
      actorKind: record.actorKind,
      via: record.via,
      action: record.action,
      targetType: record.targetType,
      targetId: record.targetId,
      storeId: record.storeId,
      clientAddress: record.clientAddress,
      before: json(record.before),
      after: json(record.after),
    };
    const hash = entryHash(head.hash, fields);
    await this.db('audit_log').insert({
      seq: fields.seq,
      at: fields.at,
      actor: fields.actor,
      actor_kind: fields.actorKind,
      via: fields.via,
      action: fields.action,
      target_type: fields.targetType,
      target_id: fields.targetId,
      store_id: fields.storeId,
      client_address: fields.clientAddress,
      before: fields.before,
      after: fields.after,
      prev_hash: head.hash,
      hash,
    });
    await this.db('audit_head').where({ name: 'audit' }).update({ hash });
    await this.db('outbox').insert({ entity: record.targetType, key: record.targetId, op: record.action, at: fields.at });
  }

  /** The sequence number and hash the head row says were written last (0 and the genesis hash before the first entry). */
  async head(): Promise<{ seq: number; hash: string }> {
    const head = (await this.db('audit_head').where({ name: 'audit' }).first('seq', 'hash')) as { seq: number | string; hash: string } | undefined;
    return { seq: Number(head?.seq ?? 0), hash: head?.hash ?? GENESIS };
  }

  /** The rows after entry `after` up to entry `upto` (all of them without it), in sequence order, a page at a time. */
  async *rows(after = 0, upto?: number): AsyncGenerator<ChainRow> {
    for await (const r of rowsInOrder(this.db, 'audit_log', 'seq', { after, ...(upto !== undefined ? { upto } : {}) })) yield toChainRow(r);
  }

  /** Walks the whole chain in sequence order and names the first entry that breaks it (the chain alone: `AuditService.verify` adds the checkpoints). */
  async verify(): Promise<ChainVerdict> {
    const head = await this.head();
    const walker = new ChainWalker();
    for await (const row of this.rows()) {
      const failed = walker.step(row);
      if (failed) return failed;
    }
    return walker.end(head);
  }

  /** Newest first; `beforeId` pages back. */
  async list(filter: { storeIds?: readonly string[]; beforeId?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    const q = this.db('audit_log').orderBy('id', 'desc').limit(filter.limit ?? 100);
    if (filter.storeIds) q.whereIn('store_id', [...filter.storeIds]);
    if (filter.beforeId !== undefined) q.where('id', '<', filter.beforeId);
    return (await q).map(toEntry);
  }
}
