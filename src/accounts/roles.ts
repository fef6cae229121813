/**
 * The roles a person holds on a store. Roles do not imply one another: a
 * Store Administrator who also publishes holds both.
 */
export const ROLES = ['admin', 'publisher', 'collaborator', 'reviewer', 'viewer', 'security-officer'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_TITLES: Readonly<Record<Role, string>> = {
  admin: 'Store Administrator: assigns roles, curates the store’s snaps, manages the keys in the vault',
  publisher: 'Publisher: registers snap names, chooses collaborators, publishes revisions',
  collaborator: 'Collaborator: uploads revisions, releases them to channels',
  reviewer: 'Reviewer: accepts uploaded revisions before they can be published',
  viewer: 'Viewer: downloads snaps, builds images with them',
  'security-officer': 'Security Officer: proposes and approves key ceremonies',
};

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

export const STORE_KINDS = ['brand', 'product', 'ecosystem'] as const;
/**
 * `brand`: the brand's own store, the root of its tree. `product`: a store per
 * product line or model; grants on its parent reach it. `ecosystem`: a store
 * for a reseller or partner, run by its own administrators; nothing granted
 * above it reaches it.
 */
export type StoreKind = (typeof STORE_KINDS)[number];
