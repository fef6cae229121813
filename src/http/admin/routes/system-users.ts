import { Readable } from 'node:stream';
import { z } from 'zod';
import { actorOf } from '../../../accounts/principal.js';
import { parseRfc3339 } from '../../../assertions/index.js';
import { systemUserSummary as summary, type SystemUserService } from '../../../provisioning/system-users.js';
import { BrandParam, strip } from './common.js';
import { route, type AdminRoute } from '../route.js';

const UserParam = z.object({ brand: z.string().min(1).max(64), email: z.string().min(3).max(254) });

const time = z
  .string()
  .refine((s) => parseRfc3339(s) !== undefined, 'must be an RFC 3339 time, e.g. 2027-01-01T00:00:00Z')
  .transform((s) => parseRfc3339(s) as Date);

const NewSystemUser = z
  .object({
    email: z.string().min(3).max(254),
    username: z.string().min(1).max(64),
    name: z.string().max(256).optional(),
    models: z.array(z.string().min(1).max(128)).min(1).max(64).meta({ description: 'models of the brand whose devices accept it' }),
    serials: z.array(z.string().min(1).max(128)).max(10_000).optional().meta({ description: 'only these devices (of exactly one model) accept it' }),
    sshKeys: z.array(z.string().min(1).max(16_384)).max(64).optional(),
    password: z.string().min(1).max(1024).optional().meta({ description: 'hashed by the vault with SHA-512 crypt, never stored' }),
    passwordHash: z.string().max(1024).optional().meta({ description: 'a SHA-512 crypt hash ($6$…) made elsewhere' }),
    forcePasswordChange: z.boolean().optional(),
    since: time.optional().meta({ description: 'default now' }),
    until: time.optional().meta({ description: 'default a year after since' }),
  })
  .meta({ id: 'NewSystemUser' });

const Issued = z.object({ revision: z.number(), assertion: z.string() }).meta({ id: 'SystemUserIssued' });
const Summary = z
  .object({
    email: z.string(),
    username: z.string(),
    name: z.string(),
    revision: z.number(),
    models: z.array(z.string()),
    serials: z.array(z.string()),
    sshKeys: z.number().meta({ description: 'how many' }),
    password: z.boolean().meta({ description: 'whether it carries one (never the hash)' }),
    forcePasswordChange: z.boolean(),
    since: z.string(),
    until: z.string(),
  })
  .meta({ id: 'SystemUser' });

/** A brand's system-user assertions: issue (or re-issue as the next revision), list, and fetch one as snapd reads it. */
export function systemUserRoutes(service: SystemUserService): AdminRoute[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/system-users',
      action: 'system-user.create',
      summary: "Sign a system-user with the brand's models key; the same email again is its next revision",
      params: BrandParam,
      body: NewSystemUser,
      target: ({ params }) => params.brand,
      response: Issued,
      status: 201,
      handle: async ({ principal, params, body }) => {
        const a = await service.create({ ...strip(body), brand: params.brand }, actorOf(principal));
        return { revision: a.revision, assertion: a.encode().toString('utf8') };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/system-users',
      action: 'system-user.read',
      summary: "The brand's system-users, latest revisions, by email",
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(Summary) }),
      handle: async ({ params }) => ({ items: (await service.list(params.brand)).map(summary) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/system-users/:email',
      action: 'system-user.read',
      operationId: 'systemUser.get',
      summary: 'The latest revision of one system-user, as the assertion devices import',
      params: UserParam,
      target: ({ params }) => params.brand,
      answersFile: 'application/x.ubuntu.assertion',
      handle: async ({ params }) => {
        const text = (await service.get(params.brand, params.email)).encode();
        return { body: Readable.from([text]), type: 'application/x.ubuntu.assertion', length: text.length, filename: `${params.brand}-${params.email}.assert` };
      },
    }),
  ];
}
