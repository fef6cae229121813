import { AccountsError } from '../errors.js';
import { actorOf, reach, type Principal } from '../principal.js';
import type { Role } from '../roles.js';
import type { AccessToken } from '../tokens.js';
import type { AccountsContext } from './context.js';

// Access tokens: never reaching further than their owner, nor than the token that made them.

export async function listTokens(ctx: AccountsContext, principal: Principal, personEmail?: string): Promise<AccessToken[]> {
  const r = ctx.repos(ctx.db);
  const person = principal.kind === 'person' ? principal.person : personEmail ? await r.people.requireByEmail(personEmail) : undefined;
  if (!person) throw new AccountsError('ERR_INVALID_INPUT', 'whose tokens? name the person by email');
  return r.tokens.forPerson(person.id);
}

/**
 * A token for the caller (or, for the operator, for `forEmail`), limited
 * to the stores and roles asked for. It can never reach further than
 * the person's own roles, nor than the token the request came with.
 */
export async function createToken(
  ctx: AccountsContext,
  principal: Principal,
  input: { name: string; days: number; stores?: readonly string[]; roles?: readonly Role[]; forEmail?: string },
): Promise<{ token: AccessToken; secret: string }> {
  if (!Number.isInteger(input.days) || input.days < 1 || input.days > ctx.maxTokenDays) {
    throw new AccountsError('ERR_INVALID_INPUT', `a token lives from 1 to ${ctx.maxTokenDays} days; ${input.days} was asked for`);
  }
  return ctx.change(async (r) => {
    const person = principal.kind === 'person' ? principal.person : await r.people.requireByEmail(input.forEmail ?? '');
    const owner: Principal = principal.kind === 'person' ? principal : { kind: 'person', person, via: 'token', grants: await r.grants.forPerson(person.id) };
    const tree = await r.stores.tree();
    const held = reach(owner, tree);
    const callerToken = principal.kind === 'person' ? principal.token : undefined;
    const stores = input.stores ? [...new Set(input.stores)] : (callerToken?.stores ?? null);
    const roles = input.roles ? [...new Set(input.roles)] : (callerToken?.roles ?? null);
    for (const s of stores ?? []) {
      if (!held.has(s)) throw new AccountsError('ERR_TOKEN_SCOPE', `a token cannot reach store "${s}": ${person.email} holds no role there`);
    }
    for (const role of roles ?? []) {
      if (![...held.values()].some((set) => set.has(role))) throw new AccountsError('ERR_TOKEN_SCOPE', `a token cannot carry the role ${role}: ${person.email} holds it nowhere`);
    }
    // A token made with a token never outlives it, and stops with it (see AccessTokenRepository.verify).
    const asked = ctx.clock().getTime() + input.days * 86400_000;
    const expiresAt = new Date(callerToken ? Math.min(asked, Date.parse(callerToken.expiresAt)) : asked);
    const made = await r.tokens.create({ personId: person.id, name: input.name, stores, roles, expiresAt, ...(callerToken ? { parentId: callerToken.id } : {}) });
    await r.audit.append({ ...actorOf(principal), action: 'token.create', targetType: 'token', targetId: String(made.token.id), storeId: null, before: null, after: { owner: person.email, name: made.token.name, prefix: made.token.prefix, stores, roles, expiresAt: made.token.expiresAt } });
    return made;
  });
}

export async function revokeToken(ctx: AccountsContext, principal: Principal, id: number): Promise<void> {
  await ctx.change(async (r) => {
    const token = await r.tokens.byId(id);
    if (!token || (principal.kind === 'person' && token.personId !== principal.person.id)) throw new AccountsError('ERR_TOKEN_UNKNOWN', `no token ${id} of yours`);
    if (token.revokedAt !== null) return;
    await r.tokens.revoke(id);
    await r.audit.append({ ...actorOf(principal), action: 'token.revoke', targetType: 'token', targetId: String(id), storeId: null, before: { name: token.name, prefix: token.prefix }, after: null });
  });
}
