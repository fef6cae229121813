import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import type { Role } from './roles.js';

export interface Grant {
  readonly personId: number;
  readonly storeId: string;
  readonly role: Role;
  readonly createdAt: string;
}

const toGrant = (r: Record<string, unknown>): Grant => ({
  personId: Number(r['person_id']),
  storeId: String(r['store_id']),
  role: String(r['role']) as Role,
  createdAt: String(r['created_at']),
});

/** Role grants as given: (person, store, role). What they reach is the StoreTree's business. */
export class GrantRepository {
  constructor(private readonly db: Database) {}

  async add(personId: number, storeId: string, role: Role): Promise<Grant> {
    const row = { person_id: personId, store_id: storeId, role, created_at: nowIso() };
    await this.db('role_grants').insert(row);
    return toGrant(row);
  }

  async remove(personId: number, storeId: string, role: Role): Promise<boolean> {
    return (await this.db('role_grants').where({ person_id: personId, store_id: storeId, role }).delete()) > 0;
  }

  async forPerson(personId: number): Promise<Grant[]> {
    return (await this.db('role_grants').where({ person_id: personId }).orderBy(['store_id', 'role'])).map(toGrant);
  }

  async forStores(storeIds: readonly string[]): Promise<Grant[]> {
    if (storeIds.length === 0) return [];
    return (await this.db('role_grants').whereIn('store_id', [...storeIds]).orderBy(['store_id', 'person_id', 'role'])).map(toGrant);
  }

  async all(): Promise<Grant[]> {
    return (await this.db('role_grants').orderBy('id')).map(toGrant);
  }
}

/** A collaborator on one snap of a store: the catalog decides what that allows. */
export class SnapCollaboratorRepository {
  constructor(private readonly db: Database) {}

  async add(personId: number, storeId: string, snapName: string): Promise<void> {
    await this.db('snap_collaborators').insert({ person_id: personId, store_id: storeId, snap_name: snapName, created_at: nowIso() });
  }

  async remove(personId: number, storeId: string, snapName: string): Promise<boolean> {
    return (await this.db('snap_collaborators').where({ person_id: personId, store_id: storeId, snap_name: snapName }).delete()) > 0;
  }

  async forSnap(storeId: string, snapName: string): Promise<number[]> {
    return (await this.db('snap_collaborators').where({ store_id: storeId, snap_name: snapName }).orderBy('person_id')).map((r) => Number(r.person_id));
  }
}
