import type { Assertion } from '../assertions/index.js';
import type { Brand } from '../accounts/brands.js';
import type { Custody } from './custody.js';
import { keyStateAt, type KeyState } from './key-state.js';

export interface ChainExport {
  /** The brand's account, then every registered account-key: what `snap ack` or a device needs to verify anything the brand signed. */
  readonly assertions: readonly Assertion[];
  readonly keys: ReadonlyArray<{ readonly label: string; readonly keyId: string; readonly purpose: string; readonly state: KeyState }>;
}

/** The brand's chain as it stands: keys awaiting their account-key are listed but have none to export. */
export async function exportChain(custody: Custody, brand: Brand, now: Date): Promise<ChainExport> {
  const account = await custody.assertions.get('account', [brand.accountId]);
  const keys = await custody.keys.ofBrand(brand.id);
  const accountKeys: Assertion[] = [];
  for (const k of keys) {
    const a = await custody.assertions.get('account-key', [k.keyId]);
    if (a) accountKeys.push(a);
  }
  return {
    assertions: [...(account ? [account] : []), ...accountKeys],
    keys: keys.map((k) => ({ label: k.label, keyId: k.keyId, purpose: k.purpose, state: keyStateAt(k, now) })),
  };
}
