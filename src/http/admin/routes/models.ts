import { Readable } from 'node:stream';
import { z } from 'zod';
import type { FactoryLines } from '../../../provisioning/factory-lines.js';
import { route, type AdminRoute, type FileAnswer } from '../route.js';
import { BrandParam } from './common.js';

const ModelParam = z.object({ brand: z.string().min(1).max(64), model: z.string().min(1).max(128) });

const Model = z
  .object({
    name: z.string(),
    brand: z.string(),
    displayName: z.string().nullable(),
    store: z.string().nullable().describe("The model's store header: the store its devices see"),
    grade: z.string().nullable(),
    revision: z.number(),
    signKeyId: z.string(),
    enabled: z.boolean(),
    serialPolicy: z.enum(['device', 'template']).describe('device: the device proposes its serial; template: the vault allocates it'),
    serialTemplate: z.string().nullable(),
    allowReprovision: z.boolean(),
    provisioning: z.enum(['api-key', 'hardware-identity']),
  })
  .meta({ id: 'Model' });

/** The brand's device models, as registered (serial-vault model list), and their assertions for image builds. */
export function modelRoutes(factory: FactoryLines): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/models',
      action: 'model.read',
      summary: "The brand's models with their serial policies",
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: z.object({ items: z.array(Model) }),
      handle: async ({ params }) => ({ items: await factory.models(params.brand) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/brands/:brand/models/:model/assertion',
      action: 'model.read',
      summary: 'The model assertion as registered, for ubuntu-image',
      operationId: 'modelAssertion',
      params: ModelParam,
      target: ({ params }) => params.brand,
      answersFile: 'application/x.ubuntu.assertion',
      handle: async ({ params }): Promise<FileAnswer> => {
        const text = (await factory.modelAssertion(params.brand, params.model)).encode();
        return { body: Readable.from([text]), type: 'application/x.ubuntu.assertion', length: text.length, filename: `${params.model}.model` };
      },
    }),
  ];
}
