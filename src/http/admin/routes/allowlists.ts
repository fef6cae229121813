import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { actorOf } from '../../../accounts/principal.js';
import type { AllowListFormat, AllowLists } from '../../../provisioning/allowlists.js';
import { ProvisioningError } from '../../../provisioning/errors.js';
import type { StationRecord, StationRepository } from '../../../provisioning/stations.js';
import { HttpError } from '../../errors.js';
import { route, type AdminRoute } from '../route.js';

/** What the allow-list routes call: the stations, and their lists. */
export interface AllowListApi {
  readonly stations: Pick<StationRepository, 'byName'>;
  readonly allowLists: AllowLists;
}

/** An upload's bound: some 40 million serials, far more than a factory line makes, yet a limit. */
const MAX_BYTES = 1024 ** 3;

const StationParam = z.object({ brand: z.string().min(1).max(64), station: z.string().min(1).max(64) });
const MEDIA_TYPES: Record<string, AllowListFormat> = {
  'text/csv': 'csv',
  'application/json': 'json',
  'application/jsonl': 'json',
  'application/x-ndjson': 'json',
};

const ImportResult = z.object({ read: z.number(), added: z.number(), unchanged: z.number() }).meta({ id: 'AllowListImport' });
const Page = z
  .object({
    brand: z.string(),
    station: z.string(),
    checked: z.boolean().meta({ description: "whether the station issues only serials on its list (its allowlist setting)" }),
    count: z.number(),
    serials: z.array(z.string()),
    next: z.string().nullable().meta({ description: 'pass as after= for the next page; null on the last' }),
  })
  .meta({ id: 'AllowListPage' });

/** The format the upload declares, from its Content-Type. */
function formatOf(source: Readable): AllowListFormat {
  const type = String((source as IncomingMessage).headers?.['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const format = MEDIA_TYPES[type];
  if (!format) throw new HttpError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send the allow-list as text/csv, or as application/json (an array, or JSON Lines)');
  return format;
}

function tooLarge(source: Readable): boolean {
  const length = Number((source as IncomingMessage).headers?.['content-length'] ?? 0);
  return length > MAX_BYTES;
}

/** A station's allow-list: import a file into it (streamed), read it a page at a time. */
export function allowListRoutes(api: AllowListApi): AdminRoute[] {
  const stationOf = async (brand: string, name: string): Promise<StationRecord> => {
    const station = await api.stations.byName(brand, name);
    if (!station) throw new ProvisioningError('ERR_STATION_UNKNOWN', `brand ${brand} has no station named ${name}`);
    return station;
  };
  return [
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/stations/:station/allowlist',
      action: 'allowlist.import',
      summary:
        "Add the serials of a file to the station's allow-list, streamed: text/csv (one serial a line, or a header naming a serial column) or application/json (an array of serials or of {serial} objects, or JSON Lines). All of the file or, on a bad line, none of it (the message names the line); the same file again adds nothing",
      params: StationParam,
      query: z.object({ name: z.string().min(1).max(255).optional().meta({ description: "the file's name, for messages and the audit record" }) }),
      // Both media types are taken; the handler tells them apart.
      streamsBody: '*/*',
      target: ({ params }) => params.brand,
      response: ImportResult,
      handle: async ({ principal, params, query, source }) => {
        const format = formatOf(source!);
        if (tooLarge(source!)) throw new HttpError('ERR_BODY_TOO_LARGE', `an allow-list upload is at most ${MAX_BYTES} bytes`);
        const station = await stationOf(params.brand, params.station);
        return api.allowLists.import(station, source!, { format, actor: actorOf(principal), maxBytes: MAX_BYTES, ...(query.name ? { source: query.name } : {}) });
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/stations/:station/allowlist',
      action: 'station.read',
      operationId: 'allowListPage',
      summary: "How many serials the station's allow-list holds, and a page of them in the database's order (after= the last one of the page before)",
      params: StationParam,
      query: z.object({ after: z.string().min(1).max(128).optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      target: ({ params }) => params.brand,
      response: Page,
      handle: async ({ params, query }) => {
        const station = await stationOf(params.brand, params.station);
        const [count, serials] = await Promise.all([api.allowLists.count(station), api.allowLists.page(station, { limit: query.limit, ...(query.after !== undefined ? { after: query.after } : {}) })]);
        return { brand: station.brandId, station: station.name, checked: station.allowlist, count, serials, next: serials.length === query.limit ? (serials[serials.length - 1] ?? null) : null };
      },
    }),
  ];
}
