import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';

/**
 * Actions that wait for a ceremony when a brand's policy lists them: every
 * way to make, replace, stop or remove a key, to add an authority, to move
 * a model to another key, to appoint or remove a security officer, and to
 * change the policy itself.
 */
export const CEREMONY_ACTIONS = ['key.create', 'key.rotate', 'key.revoke', 'key.destroy', 'authority.create', 'model.signing-key', 'officer.grant', 'officer.revoke', 'ceremony.policy'] as const;
export type CeremonyAction = (typeof CEREMONY_ACTIONS)[number];
export const isCeremonyAction = (v: unknown): v is CeremonyAction => typeof v === 'string' && (CEREMONY_ACTIONS as readonly string[]).includes(v);

export interface CeremonyPolicy {
  /** M: approvals from distinct security officers, the proposer not counted. */
  readonly approvals: number;
  readonly actions: readonly CeremonyAction[];
  /** How long a proposal waits for its approvals. */
  readonly expiryHours: number;
}

/** Two officers besides the proposer, every guarded action, a day to approve. */
export const DEFAULT_POLICY: CeremonyPolicy = { approvals: 2, actions: CEREMONY_ACTIONS, expiryHours: 24 };

export type CeremonyState = 'proposed' | 'executing' | 'executed' | 'failed';

export interface Ceremony {
  readonly id: number;
  readonly brandId: number;
  readonly action: CeremonyAction;
  /** What will run, in full: shown to every approver. */
  readonly params: Readonly<Record<string, string>>;
  readonly proposedBy: string;
  readonly proposedAt: string;
  readonly expiresAt: string;
  readonly approvalsNeeded: number;
  readonly approvals: ReadonlyArray<{ readonly approver: string; readonly at: string }>;
  readonly state: CeremonyState;
  readonly executedAt: string | undefined;
  readonly result: unknown;
}

export type CeremonyOutcome =
  | { readonly outcome: 'executed'; readonly result: unknown; readonly ceremony?: Ceremony }
  | { readonly outcome: 'proposed'; readonly ceremony: Ceremony };

const parse = (v: unknown): unknown => (v === null || v === undefined ? undefined : JSON.parse(String(v)));

/** The ceremony tables: policies per brand, proposals, approvals. Writes take the caller's transaction. */
export class CeremonyStore {
  constructor(private readonly db: Database) {}

  async policy(brandId: number): Promise<CeremonyPolicy> {
    const row = (await this.db('ceremony_policies').where({ brand_id: brandId }).first()) as Record<string, unknown> | undefined;
    if (!row) return DEFAULT_POLICY;
    const stored = parse(row['actions']) as { actions: CeremonyAction[]; expiryHours?: number } | CeremonyAction[];
    const actions = Array.isArray(stored) ? stored : stored.actions;
    const expiryHours = Array.isArray(stored) ? DEFAULT_POLICY.expiryHours : (stored.expiryHours ?? DEFAULT_POLICY.expiryHours);
    return { approvals: Number(row['approvals']), actions: actions.filter(isCeremonyAction), expiryHours };
  }

  async setPolicy(brandId: number, p: CeremonyPolicy): Promise<void> {
    const row = { approvals: p.approvals, actions: JSON.stringify({ actions: p.actions, expiryHours: p.expiryHours }), updated_at: nowIso() };
    const updated = await this.db('ceremony_policies').where({ brand_id: brandId }).update(row);
    if (updated === 0) await this.db('ceremony_policies').insert({ brand_id: brandId, ...row });
  }

  async propose(c: { brandId: number; action: CeremonyAction; params: Record<string, string>; proposedBy: string; proposedAt: Date; expiresAt: Date; approvalsNeeded: number }): Promise<number> {
    const [row] = (await this.db('ceremonies')
      .insert({
        brand_id: c.brandId,
        action: c.action,
        params: JSON.stringify(c.params),
        proposed_by: c.proposedBy,
        proposed_at: nowIso(c.proposedAt),
        expires_at: nowIso(c.expiresAt),
        approvals_needed: c.approvalsNeeded,
        state: 'proposed',
      })
      .returning('id')) as Array<{ id: number } | number>;
    return typeof row === 'object' ? Number(row.id) : Number(row);
  }

  /** One approval per person: a second is a unique violation, so concurrent doubles cannot both count. */
  async approve(id: number, approver: string, at: Date): Promise<void> {
    await this.db('ceremony_approvals').insert({ ceremony_id: id, approver, at: nowIso(at) });
  }

  /** Moves a ceremony from one state to another; false when another caller moved it first. */
  async transition(id: number, from: CeremonyState, to: CeremonyState, extra: { executedAt?: Date; result?: unknown } = {}): Promise<boolean> {
    const changed = await this.db('ceremonies')
      .where({ id, state: from })
      .update({ state: to, ...(extra.executedAt ? { executed_at: nowIso(extra.executedAt) } : {}), ...(extra.result !== undefined ? { result: JSON.stringify(extra.result) } : {}) });
    return changed === 1;
  }

  async get(id: number): Promise<Ceremony | undefined> {
    const row = (await this.db('ceremonies').where({ id }).first()) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    const approvals = (await this.db('ceremony_approvals').where({ ceremony_id: id }).orderBy('at')) as Array<Record<string, unknown>>;
    return toCeremony(row, approvals);
  }

  /** Newest first; `open` for those still waiting (not expired). */
  async list(filter: { brandId?: number; open?: boolean; limit?: number } = {}): Promise<Ceremony[]> {
    const q = this.db('ceremonies').orderBy('id', 'desc').limit(filter.limit ?? 100);
    if (filter.brandId !== undefined) q.where({ brand_id: filter.brandId });
    if (filter.open) q.where({ state: 'proposed' }).where('expires_at', '>', nowIso());
    const rows = (await q) as Array<Record<string, unknown>>;
    const ids = rows.map((r) => Number(r['id']));
    const approvals = ids.length === 0 ? [] : ((await this.db('ceremony_approvals').whereIn('ceremony_id', ids).orderBy('at')) as Array<Record<string, unknown>>);
    return rows.map((r) => toCeremony(r, approvals.filter((a) => Number(a['ceremony_id']) === Number(r['id']))));
  }
}

function toCeremony(r: Record<string, unknown>, approvals: Array<Record<string, unknown>>): Ceremony {
  return {
    id: Number(r['id']),
    brandId: Number(r['brand_id']),
    action: String(r['action']) as CeremonyAction,
    params: parse(r['params']) as Record<string, string>,
    proposedBy: String(r['proposed_by']),
    proposedAt: String(r['proposed_at']),
    expiresAt: String(r['expires_at']),
    approvalsNeeded: Number(r['approvals_needed']),
    approvals: approvals.map((a) => ({ approver: String(a['approver']), at: String(a['at']) })),
    state: String(r['state']) as CeremonyState,
    executedAt: r['executed_at'] === null || r['executed_at'] === undefined ? undefined : String(r['executed_at']),
    result: parse(r['result']),
  };
}
