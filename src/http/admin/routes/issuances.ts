import { Readable } from 'node:stream';
import { z } from 'zod';
import type { IssuanceQuery, IssuanceSearch } from '../../../provisioning/issuance-search.js';
import { route, type AdminRoute, type FileAnswer } from '../route.js';
import { BrandParam, Time, strip } from './common.js';


const Filter = z.object({
  serial: z.string().min(1).max(129).optional().describe('A serial, or its beginning followed by *'),
  model: z.string().min(1).max(128).optional(),
  station: z.string().min(1).max(64).optional(),
  from: Time.optional(),
  until: Time.optional(),
});
const PageQuery = Filter.extend({ before: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });

const Entry = z
  .object({
    id: z.number(),
    serial: z.string(),
    model: z.string(),
    station: z.string().nullable(),
    outcome: z.string(),
    issuedAt: z.string(),
    deviceKeyId: z.string(),
    signingKeyId: z.string(),
    origin: z.string().nullable().describe('The instance, or appliance:NAME, that issued it'),
    original: z.string().nullable().describe('A remodel: the serial the device had'),
  })
  .meta({ id: 'IssuanceEntry' });

const filters = (brandId: string, q: Omit<IssuanceQuery, 'brandId'>): IssuanceQuery => ({ brandId, ...strip(q) });

/** The brand's issuance log: every serial answered, by serial, model, station and time, newest first; and as CSV. */
export function issuanceRoutes(issuances: IssuanceSearch): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/issuances',
      action: 'issuance.read',
      summary: 'Serials issued, newest first; `next` is the `before` of the following page',
      params: BrandParam,
      query: PageQuery,
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(Entry), next: z.number().nullable() }),
      handle: ({ params, query }) => issuances.search(filters(params.brand, query)),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/issuances.csv',
      action: 'issuance.read',
      summary: 'The same search as CSV (at most 100,000 rows, newest first)',
      operationId: 'issuances.csv',
      params: BrandParam,
      query: Filter,
      target: ({ params }) => params.brand,
      answersFile: 'text/csv',
      handle: async ({ params, query }): Promise<FileAnswer> => {
        const csv = Buffer.from(await issuances.csv(filters(params.brand, query)), 'utf8');
        return { body: Readable.from([csv]), type: 'text/csv; charset=utf-8', length: csv.length, filename: `issuances-${params.brand}.csv` };
      },
    }),
  ];
}
