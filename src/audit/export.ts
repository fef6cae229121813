import type { PublicKey } from '../assertions/index.js';
import type { ChainRow } from './chain.js';
import type { Checkpoint } from './checkpoint.js';

/**
 * The audit export: JSON lines, so a long log streams out and back in a
 * line at a time. A header, then every entry (its chained fields exactly as
 * stored, with `prev_hash` and `hash`), then the checkpoints. The header is
 * not signed: what an export proves comes from the checkpoints, checked
 * against an audit key the reader trusts (pinned by its id).
 */
export const EXPORT_FORMAT = 'serial-vault audit export';
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  readonly type: 'header';
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION;
  readonly exportedAt: string;
  /** What the head row said when the export began: the entries in the file end there. */
  readonly head: { readonly seq: number; readonly hash: string };
  /** The audit key's public half (snapd's encoding) and its key id; null before the first checkpoint. */
  readonly auditKey: { readonly keyId: string; readonly publicKey: string } | null;
}

export function headerLine(exportedAt: string, head: { seq: number; hash: string }, key: PublicKey | undefined): string {
  const header: ExportHeader = { type: 'header', format: EXPORT_FORMAT, version: EXPORT_VERSION, exportedAt, head, auditKey: key ? { keyId: key.id, publicKey: key.encoded } : null };
  return `${JSON.stringify(header)}\n`;
}

/** An entry as a line: the `audit_log` column names, in the order the hash covers them. */
export function entryLine(r: ChainRow): string {
  return `${JSON.stringify({
    type: 'entry',
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    actor_kind: r.actorKind,
    via: r.via,
    action: r.action,
    target_type: r.targetType,
    target_id: r.targetId,
    store_id: r.storeId,
    client_address: r.clientAddress,
    before: r.before,
    after: r.after,
    prev_hash: r.prevHash,
    hash: r.hash,
  })}\n`;
}

export function checkpointLine(c: Checkpoint): string {
  return `${JSON.stringify({ type: 'checkpoint', seq: c.seq, hash: c.hash, at: c.at, key_id: c.keyId, signature: c.signature })}\n`;
}

const TEXT = ['at', 'actor', 'actor_kind', 'via', 'action', 'target_type', 'target_id', 'prev_hash', 'hash'] as const;
const NULLABLE = ['store_id', 'client_address', 'before', 'after'] as const;

/** An entry line back as the row it was, or why it cannot be one. */
export function parseEntry(o: Record<string, unknown>): ChainRow | string {
  if (!Number.isSafeInteger(o['seq'])) return '"seq" is not a whole number';
  for (const k of TEXT) if (typeof o[k] !== 'string') return `"${k}" is not a string`;
  for (const k of NULLABLE) if (o[k] !== null && typeof o[k] !== 'string') return `"${k}" is neither a string nor null`;
  const s = (k: (typeof TEXT)[number]) => o[k] as string;
  const n = (k: (typeof NULLABLE)[number]) => o[k] as string | null;
  return {
    seq: o['seq'] as number,
    at: s('at'),
    actor: s('actor'),
    actorKind: s('actor_kind'),
    via: s('via'),
    action: s('action'),
    targetType: s('target_type'),
    targetId: s('target_id'),
    storeId: n('store_id'),
    clientAddress: n('client_address'),
    before: n('before'),
    after: n('after'),
    prevHash: s('prev_hash'),
    hash: s('hash'),
  };
}

/** A checkpoint line back as the checkpoint, or why it cannot be one (its signature is checked later, by the verifier). */
export function parseCheckpoint(o: Record<string, unknown>): Checkpoint | string {
  if (!Number.isSafeInteger(o['seq'])) return '"seq" is not a whole number';
  for (const k of ['hash', 'at', 'key_id', 'signature']) if (typeof o[k] !== 'string') return `"${k}" is not a string`;
  return { seq: o['seq'] as number, hash: o['hash'] as string, at: o['at'] as string, keyId: o['key_id'] as string, signature: o['signature'] as string };
}
