import { z } from 'zod';
import { ROLES, STORE_KINDS } from '../../accounts/roles.js';

/** The admin API's shapes: validated on the way in and out, and the source of the OpenAPI document. */

export const Role = z.enum(ROLES).meta({ id: 'Role', description: 'admin: Store Administrator; publisher; collaborator; reviewer; viewer; security-officer: key custody' });
export const StoreKind = z.enum(STORE_KINDS).meta({ id: 'StoreKind' });
const Timestamp = z.string().meta({ description: 'RFC 3339 time, UTC' });
const Cursor = z.string().nullable().meta({ description: 'pass as `after` (or `before`) for the next page; null on the last page' });
export const Limit = z.coerce.number().int().min(1).max(500).optional().meta({ description: 'items per page (1–500, default 50)' });

export const Brand = z.object({ accountId: z.string(), displayName: z.string() }).meta({ id: 'Brand' });

const storeFields = {
  id: z.string(),
  name: z.string(),
  kind: StoreKind,
  parentId: z.string().nullable(),
  createdAt: Timestamp,
  roles: z.array(Role).meta({ description: 'the roles the caller holds on this store' }),
};
export const Store = z.object(storeFields).meta({ id: 'Store' });
type StoreNodeShape = z.output<typeof Store> & { children: StoreNodeShape[] };
export const StoreNode: z.ZodType<StoreNodeShape> = z
  .object({
    ...storeFields,
    get children(): z.ZodArray<z.ZodType<StoreNodeShape>> {
      return z.array(StoreNode);
    },
  })
  .meta({ id: 'StoreNode' });

export const Person = z
  .object({ id: z.number().int(), email: z.string(), displayName: z.string(), status: z.enum(['active', 'disabled']), createdAt: Timestamp })
  .meta({ id: 'Person' });
export const DirectGrant = z.object({ storeId: z.string(), role: Role, createdAt: Timestamp }).meta({ id: 'DirectGrant' });
export const PersonDetail = Person.extend({ grants: z.array(DirectGrant) }).meta({ id: 'PersonDetail' });

export const Grant = z
  .object({
    person: z.object({ id: z.number().int(), email: z.string(), displayName: z.string() }),
    storeId: z.string(),
    role: Role,
    inheritedFrom: z.string().nullable().meta({ description: 'the store the grant was made on, when it reaches this one from above' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'Grant' });

export const Token = z
  .object({
    id: z.number().int(),
    name: z.string(),
    prefix: z.string().meta({ description: 'the token starts with svp_<prefix>_' }),
    stores: z.array(z.string()).nullable(),
    roles: z.array(Role).nullable(),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    lastUsedAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Token' });
export const TokenCreated = z.object({ token: Token, secret: z.string().meta({ description: 'shown this once; send as "Authorization: Bearer <secret>"' }) }).meta({ id: 'TokenCreated' });

export const AuditEntry = z
  .object({
    id: z.number().int(),
    at: Timestamp,
    actor: z.string(),
    actorKind: z.enum(['person', 'operator']),
    via: z.enum(['session', 'token', 'cli']),
    action: z.string(),
    targetType: z.string(),
    targetId: z.string(),
    storeId: z.string().nullable(),
    clientAddress: z.string().nullable(),
    before: z.unknown(),
    after: z.unknown(),
  })
  .meta({ id: 'AuditEntry' });

export const Me = z
  .object({
    person: Person.nullable(),
    roles: z.record(z.string(), z.array(Role)).meta({ description: 'store id → the caller’s roles there' }),
    token: Token.nullable().meta({ description: 'the token this request came with, if any' }),
    csrfToken: z.string().nullable().meta({ description: 'with a browser session: send as X-CSRF-Token on POST, PATCH and DELETE' }),
  })
  .meta({ id: 'Me' });

export const page = <T extends z.ZodType>(item: T, name: string) => z.object({ items: z.array(item), next: Cursor }).meta({ id: `${name}Page` });

export const ErrorBody = z
  .object({ code: z.string(), message: z.string(), error_list: z.array(z.object({ code: z.string(), message: z.string(), field: z.string().optional() })) })
  .meta({ id: 'Error' });
