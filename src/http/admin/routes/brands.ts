import { z } from 'zod';
import type { AccountsService } from '../../../accounts/service.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';
import { BrandParam } from './common.js';

/** Brand accounts. */
export function brandsRoutes(accounts: AccountsService): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/brands',
      action: 'brand.list',
      summary: 'Brands where the caller holds a role on some store',
      response: z.object({ items: z.array(S.Brand) }).meta({ id: 'BrandList' }),
      handle: async ({ principal }) => ({ items: await accounts.listBrands(principal) }),
    }),

    route({
      method: 'get',
      path: '/api/v1/brands/:brand',
      action: 'brand.read',
      summary: 'A brand account (any role on its brand store)',
      params: BrandParam,
      target: ({ params }) => params.brand,
      response: S.Brand,
      handle: ({ params }) => accounts.brand(params.brand),
    }),
  ];
}
