import { Readable } from 'node:stream';
import { z } from 'zod';
import { actorOf } from '../../../accounts/principal.js';
import { PROVISIONING_METHODS } from '../../../catalog/models.js';
import type { FactoryLines } from '../../../provisioning/factory-lines.js';
import { reportCsv } from '../../../provisioning/registration-stats.js';
import { route, type AdminRoute, type FileAnswer } from '../route.js';
import { BrandParam, Time } from './common.js';

const StationParam = z.object({ brand: z.string().min(1).max(64), station: z.string().min(1).max(64) });
const Limit = z.number().int().min(0).max(1_000_000_000);
const ModelRef = z.string().min(1).max(200);

const Station = z
  .object({
    name: z.string(),
    brand: z.string(),
    models: z.array(z.string()),
    provisioning: z.enum(PROVISIONING_METHODS),
    validFrom: z.string().nullable(),
    validUntil: z.string().nullable(),
    perHour: z.number().nullable(),
    perDay: z.number().nullable(),
    total: z.number().nullable(),
    pattern: z.string().nullable(),
    allowlist: z.boolean(),
    disabled: z.boolean(),
    usage: z.array(z.object({ window: z.string(), limit: z.number().nullable(), used: z.number() })),
    apiKeys: z.array(z.object({ prefix: z.string(), name: z.string(), revoked: z.boolean() })),
  })
  .meta({ id: 'Station' });
const Rule = z.object({ from: z.string(), to: z.string(), store: z.string().nullable(), createdAt: z.string() }).meta({ id: 'RemodelRule' });
const ReportRow = z.object({ period: z.string(), brandId: z.string(), station: z.string(), model: z.string(), outcome: z.string(), count: z.number() }).meta({ id: 'RegistrationReportRow' });

const StationCreate = z.object({
  name: z.string().min(1).max(64),
  models: z.array(ModelRef).min(1).max(100),
  provisioning: z.enum(PROVISIONING_METHODS).optional(),
  validFrom: Time.optional(),
  validUntil: Time.optional(),
  perHour: Limit.optional(),
  perDay: Limit.optional(),
  total: Limit.optional(),
  pattern: z.string().min(1).max(256).optional(),
  allowlist: z.boolean().optional(),
});
const StationPatch = z.object({
  models: z.array(ModelRef).min(1).max(100).optional(),
  provisioning: z.enum(PROVISIONING_METHODS).optional(),
  validFrom: Time.nullable().optional(),
  validUntil: Time.nullable().optional(),
  perHour: Limit.nullable().optional(),
  perDay: Limit.nullable().optional(),
  total: Limit.nullable().optional(),
  pattern: z.string().min(1).max(256).nullable().optional(),
  allowlist: z.boolean().optional(),
  disabled: z.boolean().optional(),
});

/** Drops keys the client did not send, so "absent" never reads as "cleared". */
const sent = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };

/** Factory lines on a brand's store: stations and their API keys, remodel rules, registration reports. */
export function stationRoutes(factory: FactoryLines): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/stations',
      action: 'station.read',
      summary: "The brand's stations: models, window, quotas with what is used now, API key prefixes",
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(Station) }),
      handle: async ({ params }) => ({ items: await factory.list(params.brand) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/stations/:station',
      action: 'station.read',
      summary: 'One station',
      operationId: 'station.get',
      params: StationParam,
      target: ({ params }) => params.brand,
      response: Station,
      handle: async ({ params }) => factory.view(await factory.station(params.brand, params.station)),
    }),
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/stations',
      action: 'station.manage',
      summary: 'Create a station; its first API key is in the answer, and shown only then',
      params: BrandParam,
      body: StationCreate,
      target: ({ params }) => params.brand,
      response: z.object({ station: Station, apiKey: z.string() }),
      status: 201,
      handle: ({ principal, params, body }) => factory.create(params.brand, sent(body), actorOf(principal)),
    }),
    route({
      method: 'patch',
      path: '/api/v1/brands/:brand/stations/:station',
      action: 'station.manage',
      summary: "Change a station's models, window, quotas, pattern, allow-list use or provisioning; disable or enable it (null clears a value)",
      operationId: 'station.update',
      params: StationParam,
      body: StationPatch,
      target: ({ params }) => params.brand,
      response: Station,
      handle: ({ principal, params, body }) => factory.update(params.brand, params.station, sent(body), actorOf(principal)),
    }),
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/stations/:station/api-keys',
      action: 'station.manage',
      summary: "Another API key for the station's line, shown only in this answer",
      operationId: 'station.apiKey',
      params: StationParam,
      body: z.object({ name: z.string().min(1).max(128).optional() }),
      target: ({ params }) => params.brand,
      response: z.object({ apiKey: z.string(), prefix: z.string() }),
      status: 201,
      handle: ({ principal, params, body }) => factory.createApiKey(params.brand, params.station, body.name, actorOf(principal)),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/remodel-rules',
      action: 'remodel.read',
      summary: 'Which moves of devices into the brand’s models are allowed (remodel re-registration)',
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(Rule) }),
      handle: async ({ params }) => ({ items: await factory.remodelRules(params.brand) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/brands/:brand/remodel-rules',
      action: 'remodel.manage',
      summary: 'Allow devices of one model to re-register as one of the brand’s models, optionally only into a given sub-store',
      params: BrandParam,
      body: z.object({ from: ModelRef, to: ModelRef, store: z.string().min(1).max(64).optional() }),
      target: ({ params }) => params.brand,
      response: Rule,
      status: 201,
      handle: ({ principal, params, body }) => factory.allowRemodel(params.brand, body.from, body.to, body.store, actorOf(principal)),
    }),
    route({
      method: 'delete',
      path: '/api/v1/brands/:brand/remodel-rules',
      action: 'remodel.manage',
      summary: 'Stop allowing a move',
      operationId: 'remodel.remove',
      params: BrandParam,
      query: z.object({ from: ModelRef, to: ModelRef }),
      target: ({ params }) => params.brand,
      handle: ({ principal, params, query }) => factory.removeRemodel(params.brand, query.from, query.to, actorOf(principal)),
    }),
    ...reportRoutes(factory),
  ];
}

const ReportQuery = z.object({
  station: z.string().min(1).max(64).optional(),
  model: z.string().min(1).max(128).optional(),
  from: Time.optional(),
  until: Time.optional(),
  by: z.enum(['hour', 'day']).optional(),
});

function reportRoutes(factory: FactoryLines): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/reports/registrations',
      action: 'report.read',
      summary: 'Registrations per hour or day, station, model and outcome (issued, repeated, reprovisioned, queued, refused:CODE)',
      params: BrandParam,
      query: ReportQuery,
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(ReportRow) }),
      handle: async ({ params, query }) => ({ items: await factory.report(params.brand, sent(query)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/reports/registrations.csv',
      action: 'report.read',
      summary: 'The same report as CSV',
      operationId: 'report.csv',
      params: BrandParam,
      query: ReportQuery,
      target: ({ params }) => params.brand,
      answersFile: 'text/csv',
      handle: async ({ params, query }): Promise<FileAnswer> => {
        const csv = Buffer.from(reportCsv(await factory.report(params.brand, sent(query))), 'utf8');
        return { body: Readable.from([csv]), type: 'text/csv; charset=utf-8', length: csv.length, filename: `registrations-${params.brand}.csv` };
      },
    }),
  ];
}
