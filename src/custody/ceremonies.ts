import { actorOf, rolesOn, type Principal } from '../accounts/principal.js';
import type { AccountsService } from '../accounts/service.js';
import type { Brand } from '../accounts/brands.js';
import { UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Custody } from './custody.js';
import { CustodyError } from './errors.js';
import { CeremonyStore, type Ceremony, type CeremonyAction, type CeremonyPolicy } from './ceremony-store.js';

/** What a guarded action needs to run: its parameters checked, then the action itself. */
export interface CeremonyActionSpec {
  readonly required: readonly string[];
  readonly optional?: readonly string[];
  /** A refusal before anything is proposed (a parameter that can never work). */
  check?(params: Readonly<Record<string, string>>, brand: Brand): Promise<void> | void;
  run(params: Readonly<Record<string, string>>, brand: Brand, actor: Actor): Promise<unknown>;
}

export type CeremonyActions = Readonly<Record<CeremonyAction, CeremonyActionSpec>>;

export type CeremonyOutcome =
  | { readonly outcome: 'executed'; readonly result: unknown; readonly ceremony?: Ceremony }
  | { readonly outcome: 'proposed'; readonly ceremony: Ceremony };

const OFFICER = 'security-officer';

/**
 * M-of-N ceremonies: an action the brand's policy guards is proposed,
 * approved by M security officers other than the proposer, then run exactly
 * once, by the approval that completes it. Every step is an audit record.
 * Nobody runs a guarded action alone, administrators included; the one
 * exception is the appliance's operator setting up a brand that has no
 * security officer yet, recorded as such.
 */
export class CeremonyService {
  private readonly store: CeremonyStore;

  constructor(
    private readonly db: Database,
    private readonly custody: Custody,
    private readonly accounts: AccountsService,
    private readonly actions: CeremonyActions,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.store = new CeremonyStore(db);
  }

  private async brandOf(accountId: string | undefined): Promise<Brand> {
    const brand = accountId ? await this.custody.brands.byAccountId(accountId) : undefined;
    if (!brand) throw new CustodyError('ERR_CEREMONY_ACTION_INVALID', accountId ? `brand "${accountId}" is not set up in this vault` : 'name the brand (--brand)');
    return brand;
  }

  policy(brand: Brand): Promise<CeremonyPolicy> {
    return this.store.policy(brand.id);
  }

  /** The people who hold security-officer on the brand's store, by email. */
  async officers(brand: Brand): Promise<string[]> {
    const rows = (await this.db('role_grants')
      .join('people', 'people.id', 'role_grants.person_id')
      .where({ 'role_grants.store_id': brand.accountId, 'role_grants.role': OFFICER, 'people.status': 'active' })
      .select('people.email')) as Array<{ email: string }>;
    return rows.map((r) => r.email);
  }

  /** Whether some brand's security officers guard `action`: an action not tied to one brand (a new authority) is then proposed under one. */
  async guardedAnywhere(action: CeremonyAction): Promise<boolean> {
    for (const b of await this.custody.brands.list()) {
      if ((await this.store.policy(b.id)).actions.includes(action) && (await this.officers(b)).length > 0) return true;
    }
    return false;
  }

  private async isOfficer(principal: Principal, brand: Brand): Promise<boolean> {
    return principal.kind === 'person' && rolesOn(principal, await this.accounts.tree(), brand.accountId).has(OFFICER);
  }

  /** Proposing (or running an unguarded action) takes an administrator or security officer of the brand. */
  private async mayPropose(principal: Principal, brand: Brand): Promise<void> {
    if (principal.kind === 'operator') return;
    const roles = rolesOn(principal, await this.accounts.tree(), brand.accountId);
    if (!roles.has('admin') && !roles.has(OFFICER)) {
      throw new CustodyError('ERR_CEREMONY_NOT_OFFICER', `key actions of brand "${brand.accountId}" are proposed by its administrators and security officers`);
    }
  }

  private checkParams(action: CeremonyAction, params: Record<string, string>): void {
    const spec = this.actions[action];
    const missing = spec.required.filter((p) => !params[p]);
    const known = new Set([...spec.required, ...(spec.optional ?? [])]);
    const unknown = Object.keys(params).filter((p) => !known.has(p));
    if (missing.length > 0 || unknown.length > 0) {
      throw new CustodyError('ERR_CEREMONY_ACTION_INVALID', `${action} ${missing.length > 0 ? `needs ${missing.join(', ')}` : `does not take ${unknown.join(', ')}`} (it takes ${[...known].join(', ')})`);
    }
  }

  /** Runs `action` now when the brand's policy lets it, or proposes it for approval. */
  async request(principal: Principal, action: CeremonyAction, params: Record<string, string>, options: { expiresInSeconds?: number } = {}): Promise<CeremonyOutcome> {
    const brand = await this.brandOf(params['brand']);
    this.checkParams(action, params);
    await this.mayPropose(principal, brand);
    await this.actions[action].check?.(params, brand);
    const policy = await this.store.policy(brand.id);
    const actor = actorOf(principal);
    const guarded = policy.actions.includes(action);
    const bootstrap = guarded && principal.kind === 'operator' && (await this.officers(brand)).length === 0;
    if (!guarded || bootstrap) {
      const result = await this.actions[action].run(params, brand, actor);
      if (bootstrap) {
        await this.audit(actor, { action: 'ceremony.bypass', targetId: action, brand, after: { params, reason: 'the brand has no security officer yet' } });
      }
      return { outcome: 'executed', result };
    }
    const now = this.clock();
    const seconds = options.expiresInSeconds ?? policy.expiryHours * 3600;
    const id = await new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      const made = await new CeremonyStore(trx).propose({
        brandId: brand.id,
        action,
        params,
        proposedBy: actor.actor,
        proposedAt: now,
        expiresAt: new Date(now.getTime() + seconds * 1000),
        approvalsNeeded: policy.approvals,
      });
      await record({ action: 'ceremony.propose', targetType: 'ceremony', targetId: String(made), storeId: brand.accountId, before: null, after: { action, params, approvalsNeeded: policy.approvals, expiresInSeconds: seconds } });
      return made;
    });
    return { outcome: 'proposed', ceremony: (await this.store.get(id))! };
  }

  /**
   * One security officer's approval. The approval that completes the count
   * claims the ceremony (a single conditional update) and runs it: under
   * concurrent approvals it runs once.
   */
  async approve(principal: Principal, id: number): Promise<CeremonyOutcome> {
    const ceremony = await this.get(id);
    const brand = await this.custody.brands.byId(ceremony.brandId);
    if (!brand) throw new CustodyError('ERR_CEREMONY_UNKNOWN', `ceremony ${id} belongs to a brand that is gone`);
    if (!(await this.isOfficer(principal, brand))) {
      throw new CustodyError('ERR_CEREMONY_NOT_OFFICER', `approving needs the security-officer role on "${brand.accountId}"${principal.kind === 'operator' ? ': the operator approves nothing, use your own access token (--url and --token-file, or SERIAL_VAULT_TOKEN)' : ''}`);
    }
    const actor = actorOf(principal);
    if (ceremony.state !== 'proposed') throw new CustodyError('ERR_CEREMONY_CLOSED', `ceremony ${id} is ${ceremony.state}: there is nothing left to approve`);
    if (Date.parse(ceremony.expiresAt) <= this.clock().getTime()) throw new CustodyError('ERR_CEREMONY_EXPIRED', `ceremony ${id} expired at ${ceremony.expiresAt}: propose it again`);
    if (ceremony.proposedBy === actor.actor) throw new CustodyError('ERR_CEREMONY_SELF_APPROVAL', `you proposed ceremony ${id}: ${ceremony.approvalsNeeded} other security officers must approve it`);
    if (ceremony.approvals.some((a) => a.approver === actor.actor)) throw new CustodyError('ERR_CEREMONY_ALREADY_APPROVED', `you already approved ceremony ${id}; it needs approvals from other security officers`);
    try {
      await new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
        await new CeremonyStore(trx).approve(id, actor.actor, this.clock());
        await record({ action: 'ceremony.approve', targetType: 'ceremony', targetId: String(id), storeId: brand.accountId, before: null, after: { action: ceremony.action, params: ceremony.params } });
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new CustodyError('ERR_CEREMONY_ALREADY_APPROVED', `you already approved ceremony ${id}`);
      throw e;
    }
    const now = await this.get(id);
    if (now.approvals.length < now.approvalsNeeded || !(await this.store.transition(id, 'proposed', 'executing'))) return { outcome: 'proposed', ceremony: now };
    return this.execute(now, brand, actor);
  }

  private async execute(ceremony: Ceremony, brand: Brand, actor: Actor): Promise<CeremonyOutcome> {
    let result: unknown;
    try {
      result = await this.actions[ceremony.action].run(ceremony.params, brand, actor);
    } catch (e) {
      const reason = e instanceof CustodyError || (e instanceof Error && 'code' in e) ? `${(e as Error).message}` : 'the action failed; the operator has the details';
      await this.store.transition(ceremony.id, 'executing', 'failed', { executedAt: this.clock(), result: { error: reason } });
      await this.audit(actor, { action: 'ceremony.fail', targetId: String(ceremony.id), brand, after: { action: ceremony.action, error: reason } });
      throw e;
    }
    const summary = summarise(result);
    await this.store.transition(ceremony.id, 'executing', 'executed', { executedAt: this.clock(), result: summary });
    await this.audit(actor, { action: 'ceremony.execute', targetId: String(ceremony.id), brand, after: { action: ceremony.action, params: ceremony.params, result: summary } });
    return { outcome: 'executed', result, ceremony: await this.get(ceremony.id) };
  }

  private audit(actor: Actor, e: { action: string; targetId: string; brand: Brand; after: unknown }): Promise<void> {
    return new UnitOfWork(this.db, this.clock).run(actor, (_trx, record) =>
      record({ action: e.action, targetType: 'ceremony', targetId: e.targetId, storeId: e.brand.accountId, before: null, after: e.after }),
    );
  }

  async get(id: number): Promise<Ceremony> {
    const c = Number.isInteger(id) ? await this.store.get(id) : undefined;
    if (!c) throw new CustodyError('ERR_CEREMONY_UNKNOWN', `no ceremony ${id}: serial-vault ceremony list shows them`);
    return c;
  }

  async list(filter: { brand?: string; open?: boolean; limit?: number } = {}): Promise<Ceremony[]> {
    const brand = filter.brand ? await this.brandOf(filter.brand) : undefined;
    const open = filter.open;
    return this.store.list({ ...(brand ? { brandId: brand.id } : {}), ...(open !== undefined ? { open } : {}), ...(filter.limit !== undefined ? { limit: filter.limit } : {}) });
  }
}

/** What an action returned, as plain JSON for the ceremony's record (assertions as their reference). */
function summarise(result: unknown): unknown {
  return JSON.parse(
    JSON.stringify(result ?? null, (_k, v: unknown) => {
      if (v && typeof v === 'object' && 'ref' in v && 'encode' in v) return (v as { ref: string }).ref;
      return v;
    }),
  ) as unknown;
}
