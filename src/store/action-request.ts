import { StoreError } from './errors.js';

/** One installed snap, as snapd describes it in `context`. */
export interface InstalledSnap {
  readonly snapId: string;
  readonly instanceKey: string;
  readonly revision: number;
  readonly trackingChannel: string;
  /** The epochs the installed revision writes (snapd sends its epoch as {read, write}); [0] when absent. */
  readonly writes: readonly number[];
}

/** The `write` list of an epoch as snapd sends it: an object, a "N" or "N*" string, or nothing (epoch 0). */
function epochWrites(v: unknown): number[] {
  if (typeof v === 'string' && /^\d+\*?$/.test(v)) return [Number(v.replace('*', ''))];
  const o = obj(v);
  const pick = (l: unknown) => (Array.isArray(l) ? l.filter((n): n is number => Number.isInteger(n) && n >= 0) : []);
  const write = pick(o['write']);
  if (write.length > 0) return write;
  const read = pick(o['read']);
  return read.length > 0 ? read.slice(-1) : [0];
}

export interface AssertionAt {
  readonly type: string;
  readonly primaryKey: readonly string[];
  readonly ifNewerThan: number | undefined;
}

export type SnapAction =
  | { readonly action: 'install' | 'download'; readonly instanceKey: string; readonly name: string | undefined; readonly snapId: string | undefined; readonly channel: string | undefined; readonly revision: number | undefined }
  | { readonly action: 'refresh'; readonly instanceKey: string; readonly snapId: string; readonly channel: string | undefined; readonly revision: number | undefined }
  | { readonly action: 'fetch-assertions'; readonly key: string; readonly assertions: readonly AssertionAt[]; readonly sequenced: ReadonlyArray<{ type: string; sequenceKey: readonly string[] }> }
  | { readonly action: 'unknown'; readonly instanceKey: string; readonly name: string };

export interface ActionRequest {
  readonly context: readonly InstalledSnap[];
  readonly actions: readonly SnapAction[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * `POST v2/snaps/refresh` as snapd sends it (STORE.md §3.2), read leniently:
 * fields this store does not know (epoch, cohort-key, held, validation-sets,
 * fields, assertion-max-formats…) are ignored, never refused, because a 400
 * makes snapd retry with another wire version. Only a body that is not an
 * object is refused.
 */
export function readActionRequest(body: unknown): ActionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new StoreError('ERR_ACTION_INVALID', 'the snap action request must be a JSON object with "context" and "actions" lists');
  const b = body as Record<string, unknown>;
  const context: InstalledSnap[] = [];
  for (const raw of list(b['context'])) {
    const c = obj(raw);
    const snapId = str(c['snap-id']);
    const revision = int(c['revision']);
    if (!snapId || !revision) continue;
    context.push({ snapId, instanceKey: str(c['instance-key']) ?? snapId, revision, trackingChannel: str(c['tracking-channel']) ?? 'latest/stable', writes: epochWrites(c['epoch']) });
  }
  const actions: SnapAction[] = [];
  for (const raw of list(b['actions'])) {
    const a = obj(raw);
    const action = str(a['action']);
    const instanceKey = str(a['instance-key']) ?? '';
    if (action === 'install' || action === 'download') {
      actions.push({ action, instanceKey, name: str(a['name']), snapId: str(a['snap-id']), channel: str(a['channel']), revision: int(a['revision']) });
    } else if (action === 'refresh') {
      const snapId = str(a['snap-id']) ?? context.find((c) => c.instanceKey === instanceKey)?.snapId;
      if (snapId) actions.push({ action, instanceKey: instanceKey || snapId, snapId, channel: str(a['channel']), revision: int(a['revision']) });
    } else if (action === 'fetch-assertions') {
      const assertions: AssertionAt[] = [];
      const sequenced: Array<{ type: string; sequenceKey: string[] }> = [];
      for (const e of list(a['assertions']).map(obj)) {
        const type = str(e['type']);
        if (!type) continue;
        const pk = list(e['primary-key']).filter((p): p is string => typeof p === 'string');
        const seq = list(e['sequence-key']).filter((p): p is string => typeof p === 'string');
        if (pk.length > 0) assertions.push({ type, primaryKey: pk, ifNewerThan: typeof e['if-newer-than'] === 'number' ? e['if-newer-than'] : undefined });
        else if (seq.length > 0) sequenced.push({ type, sequenceKey: seq });
      }
      actions.push({ action, key: str(a['key']) ?? '', assertions, sequenced });
    } else if (instanceKey) {
      actions.push({ action: 'unknown', instanceKey, name: str(a['name']) ?? '' });
    }
  }
  return { context, actions };
}
