import { actorOf, rolesOn, type Principal } from '../accounts/principal.js';
import type { AccountsService } from '../accounts/service.js';
import type { Brand } from '../accounts/brands.js';
import { UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Custody } from './custody.js';
import { CustodyError } from './errors.js';
import { CeremonyStore, type Ceremony, type CeremonyAction, type CeremonyOutcome, type CeremonyPolicy } from './ceremony-store.js';
import { asJson } from './views.js';
import { VaultError } from '../errors.js';
import { KeyStoreError } from '../keystore/errors.js';

/** What a guarded action needs to run: its parameters checked, then the action itself. */
export interface CeremonyActionSpec {
  readonly required: readonly string[];
  readonly optional?: readonly string[];
  /**
   * A refusal before anything is proposed (a parameter that can never work),
   * or the parameters made exact (a key named, a time in UTC), so that
   * approvers see exactly what will run and it runs as they saw it.
   */
  check?(params: Readonly<Record<string, string>>, brand: Brand): Promise<Record<string, string> | void> | Record<string, string> | void;
  /** `ceremony`: the executed ceremony's id; none when the policy does not guard the action. */
  run(params: Readonly<Record<string, string>>, brand: Brand, actor: Actor, ceremony?: number): Promise<unknown>;
}

export type CeremonyActions = Readonly<Record<CeremonyAction, CeremonyActionSpec>>;

export type { CeremonyOutcome } from './ceremony-store.js';

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

  /** The brand a request names, or a refusal naming it. */
  async brand(accountId: string | undefined): Promise<Brand> {
    const brand = accountId ? await this.custody.brands.byAccountId(accountId) : undefined;
    if (!brand) throw new CustodyError('ERR_CEREMONY_ACTION_INVALID', accountId ? `brand "${accountId}" is not set up in this vault: serial-vault brand list shows them` : 'name the brand (--brand)');
    return brand;
  }

  /** A ceremony of the named brand (another brand's is unknown here). */
  async ofBrand(accountId: string, id: number): Promise<Ceremony> {
    const c = await this.get(id);
    if (c.brandId !== (await this.brand(accountId)).id) throw new CustodyError('ERR_CEREMONY_UNKNOWN', `no ceremony ${id} for brand "${accountId}"`);
    return c;
  }

  policy(brand: Brand): Promise<CeremonyPolicy> {
    return this.store.policy(brand.id);
  }

  /** The people who hold security-officer on the brand's store, by email. */
  officers(brand: Brand): Promise<string[]> {
    return this.accounts.holders(brand.accountId, OFFICER);
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
  async request(principal: Principal, action: CeremonyAction, asked: Record<string, string>, options: { expiresInSeconds?: number } = {}): Promise<CeremonyOutcome> {
    const brand = await this.brand(asked['brand']);
    this.checkParams(action, asked);
    await this.mayPropose(principal, brand);
    const params = { ...((await this.actions[action].check?.(asked, brand)) ?? asked), brand: brand.accountId };
    const policy = await this.store.policy(brand.id);
    const actor = actorOf(principal);
    const guarded = policy.actions.includes(action);
    // Set-up: the operator alone while the brand has no officer; never for an authority once any brand has officers.
    const bootstrap = guarded && principal.kind === 'operator' && (await this.officers(brand)).length === 0 && !(action === 'authority.create' && (await this.guardedAnywhere(action)));
    if (!guarded || bootstrap) {
      // Recorded before it runs: a bypass is never left out of the log.
      if (bootstrap) await this.audit(actor, { action: 'ceremony.bypass', targetId: action, brand, after: { params, reason: 'the brand has no security officer yet' } });
      return { outcome: 'executed', result: await this.actions[action].run(params, brand, actor) };
    }
    const most = policy.expiryHours * 3600;
    const seconds = options.expiresInSeconds ?? most;
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > most) {
      throw new CustodyError('ERR_CEREMONY_ACTION_INVALID', `a proposal lasts from 1 second to the brand policy's ${policy.expiryHours} hours (${most} s), not "${String(options.expiresInSeconds)}"`);
    }
    const now = this.clock();
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
    // Counted as things stand: only approvers who are officers now, against the larger of the M proposed under and today's.
    const officers = new Set(await this.officers(brand));
    const counted = now.approvals.filter((a) => officers.has(a.approver)).length;
    const needed = Math.max(now.approvalsNeeded, (await this.store.policy(brand.id)).approvals);
    if (counted < needed || !(await this.store.transition(id, 'proposed', 'executing'))) return { outcome: 'proposed', ceremony: now };
    return this.execute(now, brand, actor);
  }

  /** Runs a claimed ceremony; its outcome and its audit entry commit together. */
  private async execute(ceremony: Ceremony, brand: Brand, actor: Actor): Promise<CeremonyOutcome> {
    const close = (to: 'executed' | 'failed', result: unknown) =>
      new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
        await new CeremonyStore(trx).transition(ceremony.id, 'executing', to, { executedAt: this.clock(), result });
        await record({ action: to === 'executed' ? 'ceremony.execute' : 'ceremony.fail', targetType: 'ceremony', targetId: String(ceremony.id), storeId: brand.accountId, before: null, after: { action: ceremony.action, params: ceremony.params, ...(to === 'executed' ? { result } : result as object) } });
      });
    let result: unknown;
    try {
      result = await this.actions[ceremony.action].run(ceremony.params, brand, actor, ceremony.id);
    } catch (e) {
      // Our own refusals say what went wrong; anything else (database, HSM) stays in the log.
      const error = e instanceof VaultError && !(e instanceof KeyStoreError) ? e.message : 'the action failed; the operator has the details in the log';
      await close('failed', { error });
      throw e;
    }
    await close('executed', asJson(result));
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
    const brand = filter.brand ? await this.brand(filter.brand) : undefined;
    const open = filter.open;
    return this.store.list({ ...(brand ? { brandId: brand.id } : {}), ...(open !== undefined ? { open } : {}), ...(filter.limit !== undefined ? { limit: filter.limit } : {}) });
  }
}
