import { z } from 'zod';
import { actorOf } from '../../../accounts/principal.js';
import type { Custody } from '../../../custody/custody.js';
import { chainCheck, hardwareIdentityView, type HardwareIdentities } from '../../../provisioning/hardware-identities.js';
import { HttpError } from '../../errors.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';
import { BrandParam } from './common.js';

/** What the hardware-identity routes call: the identities, and the brands and chains that verify them. */
export interface HardwareIdentityApi {
  readonly hardwareIdentities: HardwareIdentities;
  readonly custody: Pick<Custody, 'brands' | 'trust'>;
}

/**
 * An import is checked whole before it is stored, so it is held in memory:
 * about 1 KiB an identity, so this takes some 200,000 in one request.
 * Larger files go in parts, or through `serial-vault hardware-identity import`.
 */
export const MAX_IMPORT_BYTES = 256 * 1024 * 1024;

const AccountId = z.string().min(1).max(64);

const Identity = z
  .object({
    id: z.number(),
    hardwareId: z.string(),
    hardwareName: z.string(),
    manufacturer: z.string(),
    issuerId: z.string(),
    keyDigest: z.string().meta({ description: 'hardware-id-key-sha3-384: what a device names in its serial-request body' }),
    importedAt: z.string(),
    boundTo: z.object({ serial: z.string(), model: z.string().nullable(), deviceKeyId: z.string(), boundAt: z.string() }).nullable().meta({ description: 'the device it onboarded, once it has' }),
  })
  .meta({ id: 'HardwareIdentity' });
const Counts = z.object({ read: z.number(), added: z.number(), unchanged: z.number() }).meta({ id: 'HardwareIdentityImport' });

/** The request body as it streams in, refused once it passes `max` bytes. */
async function* capped(source: AsyncIterable<Buffer>, max: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.length;
    if (seen > max) throw new HttpError('ERR_BODY_TOO_LARGE', `the body is larger than ${max} bytes: import a file this large in parts, or with serial-vault hardware-identity import`);
    yield chunk;
  }
}

/** A brand's hardware identities (secure onboarding): bulk import, and the list with what each onboarded. */
export function hardwareIdentityRoutes(api: HardwareIdentityApi): AdminRoute[] {
  const knownBrand = async (brand: string) => {
    if (!(await api.custody.brands.byAccountId(brand))) throw new HttpError('ERR_NOT_FOUND', `brand "${brand}" is not set up in this vault`);
  };
  return [
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/hardware-identities',
      action: 'hardware-identity.import',
      summary:
        'Import hardware-identity assertions (the body, application/x.ubuntu.assertion, one after another), each issued by the brand or an `issuer` named in the query and verified through its chain; one bad assertion imports nothing, and the same file again changes nothing',
      params: BrandParam,
      query: z.object({ issuer: z.union([AccountId, z.array(AccountId).max(20)]).optional().meta({ description: 'another account whose identities the brand accepts (repeatable)' }) }),
      streamsBody: 'application/x.ubuntu.assertion',
      target: ({ params }) => params.brand,
      response: Counts,
      handle: async ({ principal, params, query, source }) => {
        await knownBrand(params.brand);
        const issuers = query.issuer === undefined ? [] : [query.issuer].flat();
        return api.hardwareIdentities.import(params.brand, capped(source!, MAX_IMPORT_BYTES), { check: await chainCheck(api.custody), issuers, actor: actorOf(principal) });
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/hardware-identities',
      action: 'hardware-identity.read',
      summary: "The brand's hardware identities in import order, with the device each onboarded; pass `next` as `after` for the next page",
      params: BrandParam,
      query: z.object({ after: z.coerce.number().int().min(0).optional(), limit: S.Limit }),
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(Identity), next: z.string().nullable(), total: z.number() }).meta({ id: 'HardwareIdentityPage' }),
      handle: async ({ params, query }) => {
        const limit = query.limit ?? 50;
        const items = await api.hardwareIdentities.list(params.brand, { limit, ...(query.after !== undefined ? { after: query.after } : {}) });
        const last = items.at(-1);
        return { items: items.map(hardwareIdentityView), next: items.length === limit && last ? String(last.id) : null, total: await api.hardwareIdentities.count(params.brand) };
      },
    }),
  ];
}
