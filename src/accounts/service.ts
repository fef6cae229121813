import type { Database } from '../db/database.js';
import { AccountsError } from './errors.js';
import { decide, type Principal } from './principal.js';
import type { Action } from './policy.js';
import type { StoreTree } from './stores.js';
import { AccountsContext, type AccountsOptions } from './cases/context.js';
import * as signInCases from './cases/sign-in.js';
import * as storesCases from './cases/stores.js';
import * as peopleCases from './cases/people.js';
import * as tokensCases from './cases/tokens.js';
import * as auditCases from './cases/audit.js';
import * as bootstrapCases from './cases/bootstrap.js';

export type { AccountsOptions, Page } from './cases/context.js';
export type { GrantView, StoreNode, StoreView } from './cases/views.js';
export { slug } from './cases/stores.js';

/** A use case's arguments after its context. */
type Args<F> = F extends (ctx: AccountsContext, ...rest: infer A) => unknown ? A : never;

/**
 * Brand accounts, the store tree, people, role grants, access tokens and
 * sessions: the use cases (in `cases/`, one file per section), each change
 * in one transaction with its audit record. The HTTP layer checks the
 * policy table before calling in; the use cases filter what they return to
 * what the caller may see, and keep the rules that hold whoever asks (the
 * last administrator stays, a token never reaches further than its owner).
 */
export class AccountsService {
  private readonly ctx: AccountsContext;

  constructor(db: Database, options: AccountsOptions = {}) {
    this.ctx = new AccountsContext(db, options);
  }

  tree(): Promise<StoreTree> {
    return this.ctx.tree();
  }

  /** The policy table applied to a request; throws ERR_FORBIDDEN with the reason. */
  async authorize(principal: Principal, action: Action, storeId?: string): Promise<void> {
    const d = decide(principal, await this.tree(), action, storeId);
    if (!d.allowed) throw new AccountsError('ERR_FORBIDDEN', d.reason);
  }

  // sign-in
  authenticateToken(...a: Args<typeof signInCases.authenticateToken>) {
    return signInCases.authenticateToken(this.ctx, ...a);
  }
  authenticateSession(...a: Args<typeof signInCases.authenticateSession>) {
    return signInCases.authenticateSession(this.ctx, ...a);
  }
  signIn(...a: Args<typeof signInCases.signIn>) {
    return signInCases.signIn(this.ctx, ...a);
  }
  pruneSessions(...a: Args<typeof signInCases.pruneSessions>) {
    return signInCases.pruneSessions(this.ctx, ...a);
  }
  signOut(...a: Args<typeof signInCases.signOut>) {
    return signInCases.signOut(this.ctx, ...a);
  }
  refresh(...a: Args<typeof signInCases.refresh>) {
    return signInCases.refresh(this.ctx, ...a);
  }
  me(...a: Args<typeof signInCases.me>) {
    return signInCases.me(this.ctx, ...a);
  }
  listBrands(...a: Args<typeof signInCases.listBrands>) {
    return signInCases.listBrands(this.ctx, ...a);
  }
  brand(...a: Args<typeof signInCases.brand>) {
    return signInCases.brand(this.ctx, ...a);
  }

  // stores
  listStores(...a: Args<typeof storesCases.listStores>) {
    return storesCases.listStores(this.ctx, ...a);
  }
  store(...a: Args<typeof storesCases.store>) {
    return storesCases.store(this.ctx, ...a);
  }
  storeTree(...a: Args<typeof storesCases.storeTree>) {
    return storesCases.storeTree(this.ctx, ...a);
  }
  createStore(...a: Args<typeof storesCases.createStore>) {
    return storesCases.createStore(this.ctx, ...a);
  }
  renameStore(...a: Args<typeof storesCases.renameStore>) {
    return storesCases.renameStore(this.ctx, ...a);
  }

  // people
  listGrants(...a: Args<typeof peopleCases.listGrants>) {
    return peopleCases.listGrants(this.ctx, ...a);
  }
  grant(...a: Args<typeof peopleCases.grant>) {
    return peopleCases.grant(this.ctx, ...a);
  }
  revoke(...a: Args<typeof peopleCases.revoke>) {
    return peopleCases.revoke(this.ctx, ...a);
  }
  holders(...a: Args<typeof peopleCases.holders>) {
    return peopleCases.holders(this.ctx, ...a);
  }
  listPeople(...a: Args<typeof peopleCases.listPeople>) {
    return peopleCases.listPeople(this.ctx, ...a);
  }
  person(...a: Args<typeof peopleCases.person>) {
    return peopleCases.person(this.ctx, ...a);
  }
  addPerson(...a: Args<typeof peopleCases.addPerson>) {
    return peopleCases.addPerson(this.ctx, ...a);
  }
  updatePerson(...a: Args<typeof peopleCases.updatePerson>) {
    return peopleCases.updatePerson(this.ctx, ...a);
  }

  // tokens
  listTokens(...a: Args<typeof tokensCases.listTokens>) {
    return tokensCases.listTokens(this.ctx, ...a);
  }
  createToken(...a: Args<typeof tokensCases.createToken>) {
    return tokensCases.createToken(this.ctx, ...a);
  }
  revokeToken(...a: Args<typeof tokensCases.revokeToken>) {
    return tokensCases.revokeToken(this.ctx, ...a);
  }

  // audit
  audit(...a: Args<typeof auditCases.audit>) {
    return auditCases.audit(this.ctx, ...a);
  }
  auditAll(...a: Args<typeof auditCases.auditAll>) {
    return auditCases.auditAll(this.ctx, ...a);
  }

  // bootstrap
  bootstrapAdmin(...a: Args<typeof bootstrapCases.bootstrapAdmin>) {
    return bootstrapCases.bootstrapAdmin(this.ctx, ...a);
  }
}
