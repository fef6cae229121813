import type { AuditEntry } from '../../audit/audit-log.js';
import { AccountsError } from '../errors.js';
import { decide, type Principal } from '../principal.js';
import { type AccountsContext, clampLimit, pageOf, type Page } from './context.js';

// Reading the audit log: a store's entries for its auditors, the whole log for the operator.

/** Audit entries about `storeId` and the stores below it that the caller may audit. */
export async function audit(ctx: AccountsContext, principal: Principal, storeId: string, page: { before?: number; limit?: number } = {}): Promise<Page<AuditEntry>> {
  const tree = await ctx.tree();
  const storeIds = tree.subtree(storeId).filter((s) => decide(principal, tree, 'audit.read', s.id).allowed).map((s) => s.id);
  const limit = clampLimit(page.limit);
  const rows = await ctx.repos(ctx.db).audit.list({ storeIds, ...(page.before !== undefined ? { beforeId: page.before } : {}), limit: limit + 1 });
  return pageOf(rows, limit, (e) => String(e.id));
}

/** The whole audit log, newest first: the operator's view (sign-ins, people and tokens have no store). */
export async function auditAll(ctx: AccountsContext, principal: Principal, page: { before?: number; limit?: number } = {}): Promise<Page<AuditEntry>> {
  if (principal.kind !== 'operator') throw new AccountsError('ERR_FORBIDDEN', 'only the operator reads the whole audit log; read a store\'s with its id');
  const limit = clampLimit(page.limit);
  const rows = await ctx.repos(ctx.db).audit.list({ ...(page.before !== undefined ? { beforeId: page.before } : {}), limit: limit + 1 });
  return pageOf(rows, limit, (e) => String(e.id));
}
