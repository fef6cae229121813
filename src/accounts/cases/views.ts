import type { Role } from '../roles.js';
import type { Store } from '../stores.js';

// What the account use cases answer with, beside the repositories' own records.

export interface StoreView extends Store {
  /** The caller's roles on this store. */
  readonly roles: Role[];
}

export interface StoreNode extends StoreView {
  readonly children: StoreNode[];
}

export interface GrantView {
  readonly person: { readonly id: number; readonly email: string; readonly displayName: string };
  readonly storeId: string;
  readonly role: Role;
  /** Where the grant was made, when it reaches this store from a parent store. */
  readonly inheritedFrom: string | null;
  readonly createdAt: string;
}
