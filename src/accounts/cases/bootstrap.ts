import { AccountsError } from '../errors.js';
import { normalizeEmail, type Person } from '../people.js';
import { OPERATOR } from '../principal.js';
import type { Store } from '../stores.js';
import type { AccessToken } from '../tokens.js';
import type { AccountsContext } from './context.js';
import { addPerson, grant } from './people.js';
import { brand as brandNamed } from './sign-in.js';
import { createToken } from './tokens.js';

// The first administrator of a brand, from the appliance's command line.

/**
 * The first administrator of a brand, from the appliance's command line:
 * the person (added if new), the admin role on the brand store, and a
 * short-lived token to sign in with before single sign-on is set up.
 */
export async function bootstrapAdmin(ctx: AccountsContext, input: { email: string; displayName?: string; brand?: string; days?: number }): Promise<{ person: Person; store: Store; secret: string; token: AccessToken }> {
  const r = ctx.repos(ctx.db);
  const brands = await r.brands.list();
  const brand = input.brand ? await brandNamed(ctx, input.brand) : brands.length === 1 ? brands[0] : undefined;
  if (!brand) {
    throw new AccountsError(
      brands.length === 0 ? 'ERR_BRAND_UNKNOWN' : 'ERR_INVALID_INPUT',
      brands.length === 0 ? 'there is no brand yet: create one first ("serial-vault brand create")' : `several brands: name one with --brand (${brands.map((b) => b.accountId).join(', ')})`,
    );
  }
  const store = await r.stores.require(brand.accountId);
  const email = normalizeEmail(input.email);
  const person = (await r.people.byEmail(email)) ?? (await addPerson(ctx, OPERATOR, email, input.displayName ?? email));
  const held = await r.grants.forPerson(person.id);
  if (!held.some((g) => g.storeId === store.id && g.role === 'admin')) await grant(ctx, OPERATOR, store.id, email, 'admin');
  const { token, secret } = await createToken(ctx, OPERATOR, { name: 'bootstrap', days: input.days ?? 1, forEmail: email });
  return { person, store, secret, token };
}
