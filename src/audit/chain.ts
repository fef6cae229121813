import { createHash } from 'node:crypto';

/**
 * The audit log's hash chain, as pure functions: each entry's hash covers
 * its sequence number, the previous entry's hash and every field, so an
 * edited, deleted, inserted or reordered row breaks the chain at that row.
 */

/** The `prev_hash` of the first entry. */
export const GENESIS = '0'.repeat(64);

/** An audit row as stored: text fields exactly as written (JSON already serialised). */
export interface ChainedFields {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly actorKind: string;
  readonly via: string;
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly storeId: string | null;
  readonly clientAddress: string | null;
  readonly before: string | null;
  readonly after: string | null;
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** The chained fields of an `audit_log` row as the database returns it (snake_case columns), under sequence `seq`. */
export function chainedFieldsOf(r: Record<string, unknown>, seq = Number(r['seq'])): ChainedFields {
  return {
    seq,
    at: String(r['at']),
    actor: String(r['actor']),
    actorKind: String(r['actor_kind']),
    via: String(r['via']),
    action: String(r['action']),
    targetType: String(r['target_type']),
    targetId: String(r['target_id']),
    storeId: text(r['store_id']),
    clientAddress: text(r['client_address']),
    before: text(r['before']),
    after: text(r['after']),
  };
}

/** SHA-256 (hex) of the previous hash and a JSON array of the fields in a fixed order. */
export function entryHash(prevHash: string, f: ChainedFields): string {
  const fields = [f.seq, f.at, f.actor, f.actorKind, f.via, f.action, f.targetType, f.targetId, f.storeId, f.clientAddress, f.before, f.after];
  return createHash('sha256').update(prevHash).update('\n').update(JSON.stringify(fields)).digest('hex');
}

export interface ChainRow extends ChainedFields {
  readonly prevHash: string;
  readonly hash: string;
}

/** What broke, for scripts: the `reason` says it in words. */
export type ChainProblem = 'missing' | 'repeated' | 'relinked' | 'inserted' | 'edited' | 'truncated' | 'head-changed';

export type ChainVerdict =
  | { readonly ok: true; readonly entries: number; readonly head: string }
  | { readonly ok: false; readonly entries: number; readonly seq: number; readonly problem: ChainProblem; readonly reason: string };

export type ChainFailure = Extract<ChainVerdict, { ok: false }>;

/**
 * Walks rows in the order of their sequence numbers, one at a time (a log
 * may be long), and names the first one that breaks the chain. `end` takes
 * the sequence and hash the log's head row says were written last: a
 * cut-off tail shows there. `from` starts the walk after an entry already
 * trusted (a signed checkpoint), so only the entries after it are read.
 */
export class ChainWalker {
  private expected: number;
  private prev: string;
  /** The hash before `prev`: an entry linking to it shows the one between was slipped in. */
  private prevPrev: string | undefined;

  constructor(from: { readonly seq: number; readonly hash: string } = { seq: 0, hash: GENESIS }) {
    this.expected = from.seq + 1;
    this.prev = from.hash;
  }

  /** Entries that held so far. */
  get entries(): number {
    return this.expected - 1;
  }

  /** A failure, or undefined while the chain holds. */
  step(row: ChainRow): ChainFailure | undefined {
    const entries = this.expected - 1;
    if (row.seq !== this.expected) {
      return row.seq > this.expected
        ? { ok: false, entries, seq: this.expected, problem: 'missing', reason: `entry ${this.expected} is missing (the next one is ${row.seq})` }
        : { ok: false, entries, seq: this.expected, problem: 'repeated', reason: `entry ${row.seq} comes again after ${entries}` };
    }
    if (row.prevHash !== this.prev) {
      if (row.prevHash === this.prevPrev) {
        return { ok: false, entries: entries - 1, seq: row.seq - 1, problem: 'inserted', reason: `it was slipped in: entry ${row.seq} links to entry ${row.seq - 2}, past it` };
      }
      return { ok: false, entries, seq: row.seq, problem: 'relinked', reason: 'its link to the previous entry does not match (an entry before it was removed, added or moved)' };
    }
    if (entryHash(this.prev, row) !== row.hash) return { ok: false, entries, seq: row.seq, problem: 'edited', reason: 'its content does not match its hash (it was edited)' };
    this.prevPrev = this.prev;
    this.prev = row.hash;
    this.expected++;
    return undefined;
  }

  end(head: { seq: number; hash: string }): ChainVerdict {
    const entries = this.expected - 1;
    if (head.seq > entries) {
      return { ok: false, entries, seq: entries + 1, problem: 'truncated', reason: `the log ends at entry ${entries}, but ${head.seq} entries were written` };
    }
    if (head.seq < entries) {
      return { ok: false, entries: head.seq, seq: head.seq + 1, problem: 'inserted', reason: `it was added after the last entry written (${head.seq}): the log runs on to entry ${entries}` };
    }
    if (entries > 0 && head.hash !== this.prev) {
      return { ok: false, entries, seq: entries, problem: 'head-changed', reason: 'the last entry does not match the hash the log recorded for it (it was changed)' };
    }
    return { ok: true, entries, head: this.prev };
  }
}
