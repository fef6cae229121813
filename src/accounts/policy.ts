import { ROLES, type Role } from './roles.js';

/** Everything the admin API lets someone do. Each admin route declares one. */
export type Action =
  | 'me.read'
  | 'brand.list'
  | 'brand.read'
  | 'store.list'
  | 'store.read'
  | 'store.create'
  | 'store.update'
  | 'grant.list'
  | 'grant.create'
  | 'grant.revoke'
  | 'person.list'
  | 'person.read'
  | 'person.add'
  | 'person.update'
  | 'token.list'
  | 'token.create'
  | 'token.revoke'
  | 'audit.read'
  | 'audit.verify'
  | 'model.read'
  | 'issuance.read'
  | 'snap.list'
  | 'snap.read'
  | 'snap.download'
  | 'snap.register'
  | 'snap.collaborators'
  | 'snap.upload'
  | 'snap.push'
  | 'snap.release'
  | 'snap.review'
  | 'store.curate'
  | 'store.policy'
  | 'key.read'
  | 'ceremony.read'
  | 'ceremony.propose'
  | 'ceremony.approve'
  | 'station.read'
  | 'station.manage'
  | 'allowlist.import'
  | 'hardware-identity.read'
  | 'hardware-identity.import'
  | 'system-user.read'
  | 'system-user.create'
  | 'remodel.read'
  | 'remodel.manage'
  | 'report.read'
  | 'sync-conflict.read'
  | 'appliance.read'
  | 'appliance.manage';

/**
 * What an action needs:
 * - `store`: one of `roles` on the store the request names (held there or reaching it from above);
 * - `any-store`: one of `roles` on at least one store (the result is then limited to what those stores see);
 * - `signed-in`: only a signed-in person (the action is about the caller's own things, or lists what they can see).
 */
export type Requirement = { readonly scope: 'store' | 'any-store'; readonly roles: readonly Role[] } | { readonly scope: 'signed-in' };

const anyRole = ROLES;

/** The one policy table. The route × role test checks every admin route against it. */
export const POLICY: Readonly<Record<Action, Requirement>> = {
  'me.read': { scope: 'signed-in' },
  'brand.list': { scope: 'signed-in' },
  'brand.read': { scope: 'store', roles: anyRole },
  'store.list': { scope: 'signed-in' },
  'store.read': { scope: 'store', roles: anyRole },
  'store.create': { scope: 'store', roles: ['admin'] },
  'store.update': { scope: 'store', roles: ['admin'] },
  'grant.list': { scope: 'store', roles: ['admin'] },
  'grant.create': { scope: 'store', roles: ['admin'] },
  'grant.revoke': { scope: 'store', roles: ['admin'] },
  'person.list': { scope: 'any-store', roles: ['admin'] },
  'person.read': { scope: 'any-store', roles: ['admin'] },
  'person.add': { scope: 'any-store', roles: ['admin'] },
  'person.update': { scope: 'any-store', roles: ['admin'] },
  'token.list': { scope: 'signed-in' },
  'token.create': { scope: 'signed-in' },
  'token.revoke': { scope: 'signed-in' },
  'audit.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  // The chain spans the whole vault; a brand's administrators and officers see whether it holds.
  'audit.verify': { scope: 'store', roles: ['admin', 'security-officer'] },
  // Viewers build images from the brand's models.
  'model.read': { scope: 'store', roles: ['admin', 'security-officer', 'viewer'] },
  'issuance.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  // The catalog: who may do what with a store's snaps (STORE.md §5; the role matrix).
  'snap.list': { scope: 'store', roles: ['admin', 'publisher', 'collaborator', 'reviewer', 'viewer'] },
  'snap.read': { scope: 'store', roles: ['admin', 'publisher', 'collaborator', 'reviewer', 'viewer'] },
  'snap.download': { scope: 'store', roles: ['admin', 'publisher', 'collaborator', 'reviewer', 'viewer'] },
  'snap.register': { scope: 'store', roles: ['admin', 'publisher'] },
  'snap.collaborators': { scope: 'store', roles: ['admin', 'publisher'] },
  'snap.upload': { scope: 'any-store', roles: ['admin', 'publisher', 'collaborator'] },
  'snap.push': { scope: 'store', roles: ['admin', 'publisher', 'collaborator'] },
  'snap.release': { scope: 'store', roles: ['admin', 'publisher', 'collaborator'] },
  'snap.review': { scope: 'store', roles: ['admin', 'reviewer'] },
  'store.curate': { scope: 'store', roles: ['admin'] },
  'store.policy': { scope: 'store', roles: ['admin'] },
  // Key custody on a brand's store: officers guard, administrators may propose but never approve.
  'key.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  'ceremony.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  'ceremony.propose': { scope: 'store', roles: ['admin', 'security-officer'] },
  'ceremony.approve': { scope: 'store', roles: ['security-officer'] },
  // Factory lines, on the brand's store: administrators run them; security officers may look.
  'station.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  'station.manage': { scope: 'store', roles: ['admin'] },
  'allowlist.import': { scope: 'store', roles: ['admin'] },
  'hardware-identity.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  'hardware-identity.import': { scope: 'store', roles: ['admin'] },
  'system-user.read': { scope: 'store', roles: ['admin'] },
  'system-user.create': { scope: 'store', roles: ['admin'] },
  'remodel.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  'remodel.manage': { scope: 'store', roles: ['admin'] },
  'report.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  // Serials two appliances gave to two devices: the brand's administrators resolve them, officers may look.
  'sync-conflict.read': { scope: 'store', roles: ['admin', 'security-officer'] },
  // Appliances (central): administrators of the brand's store add, disable and enable them.
  'appliance.read': { scope: 'store', roles: ['admin'] },
  'appliance.manage': { scope: 'store', roles: ['admin'] },
};
