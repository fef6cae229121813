import { z } from 'zod';
import { SyncError } from './errors.js';

/** What an appliance pushes: its issuance log, its audit checkpoints, its station counter windows. */
export const PUSH_KINDS = ['issuance', 'checkpoint', 'counters'] as const;
export type PushKind = (typeof PUSH_KINDS)[number];

/** Rows per batch: the pusher sends this many at most, central refuses more. */
export const PUSH_BATCH_ROWS = 2000;
export const MAX_PUSH_ROWS = 5000;

const Seq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const Text = (max: number) => z.string().min(1).max(max);
const Optional = (max: number) => z.string().max(max).nullable().optional();
const Stamp = z.string().min(10).max(32);

/** One issuance_log row of the appliance; `seq` is its row id there. */
export const IssuanceRow = z.strictObject({
  seq: Seq,
  brandId: Text(64),
  model: Text(128),
  serial: Text(128),
  deviceKeyId: Text(64),
  signingKeyId: Text(64),
  outcome: z.enum(['issued', 'repeated', 'reprovisioned']),
  requestId: Optional(64),
  clientAddress: Optional(64),
  station: Optional(64),
  original: Optional(400),
  hardwareIdKey: Optional(64),
  issuedAt: Stamp,
});
export type IssuanceRow = z.output<typeof IssuanceRow>;

/** One audit checkpoint of the appliance's own chain (src/audit/checkpoint.ts); `seq` is the entry it signs. */
export const CheckpointRow = z.strictObject({
  seq: Seq,
  hash: Text(64),
  at: Stamp,
  keyId: Text(64),
  signature: Text(4096),
});
export type CheckpointRow = z.output<typeof CheckpointRow>;

/** The count of one station window as the appliance last saw it; `seq` orders the values of a window. */
export const CounterRow = z.strictObject({
  seq: Seq,
  station: Text(64),
  window: Text(24),
  count: z.number().int().min(0).max(2 ** 31 - 1),
});
export type CounterRow = z.output<typeof CounterRow>;

export type PushRow = IssuanceRow | CheckpointRow | CounterRow;

const ROW: Readonly<Record<PushKind, z.ZodType<PushRow>>> = { issuance: IssuanceRow, checkpoint: CheckpointRow, counters: CounterRow };

export type PushBatch =
  | { readonly kind: 'issuance'; readonly after: number; readonly rows: readonly IssuanceRow[] }
  | { readonly kind: 'checkpoint'; readonly after: number; readonly rows: readonly CheckpointRow[] }
  | { readonly kind: 'counters'; readonly after: number; readonly rows: readonly CounterRow[] };

/** What central answers a push: the sequence it now holds everything up to, and how many rows it had already. */
export interface PushAnswer {
  readonly acked: number;
  readonly duplicates: number;
}

const Envelope = z.strictObject({
  kind: z.enum(PUSH_KINDS),
  after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  rows: z.array(z.unknown()).max(MAX_PUSH_ROWS),
});

const invalid = (message: string, detail?: Record<string, unknown>) => new SyncError('ERR_SYNC_BATCH_INVALID', message, detail);
const issueText = (e: z.ZodError) => e.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'row'}: ${i.message}`).join('; ');

/**
 * Checks a pushed body: its envelope, every row's shape, and that the
 * sequences rise after `after`. A bad row is named by its index and
 * sequence, so the appliance's operator can find it in the local log.
 */
export function parsePushBatch(body: unknown): PushBatch {
  const envelope = Envelope.safeParse(body);
  if (!envelope.success) throw invalid(`cannot take this push: ${issueText(envelope.error)} (expected {kind: ${PUSH_KINDS.join('|')}, after, rows: at most ${MAX_PUSH_ROWS}})`);
  const { kind, after, rows } = envelope.data;
  const schema = ROW[kind];
  let previous = after;
  const parsed = rows.map((raw, index) => {
    const seq = (raw as { seq?: unknown } | null)?.seq;
    const row = schema.safeParse(raw);
    if (!row.success) throw invalid(`cannot take ${kind} row ${index} (seq ${String(seq)}): ${issueText(row.error)}`, { row: index });
    if (row.data.seq <= previous) throw invalid(`cannot take ${kind} row ${index} (seq ${row.data.seq}): sequences must rise, each above ${previous}`, { row: index });
    previous = row.data.seq;
    return row.data;
  });
  return { kind, after, rows: parsed } as PushBatch;
}
