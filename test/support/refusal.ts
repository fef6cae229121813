import { CatalogError } from '../../src/catalog/errors.js';
import { AccountsError } from '../../src/accounts/errors.js';

/** 'ok' when `p` resolves, the code when it is refused with an AccountsError; anything else is rethrown. */
export async function refusalCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof AccountsError) return e.code;
    throw e;
  }
}

/** 'ok' when `p` resolves, `CODE: message` when the catalog refuses it; anything else is rethrown. */
export async function catalogRefusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof CatalogError) return `${e.code}: ${e.message}`;
    throw e;
  }
}
