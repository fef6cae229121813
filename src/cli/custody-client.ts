import type { Principal } from '../accounts/principal.js';
import type { Vault } from '../app.js';
import { exportChain } from '../custody/chain-export.js';
import type { CeremonyAction } from '../custody/ceremony-store.js';
import type { Finding } from '../custody/key-health.js';
import { ceremonyView, keyViews, outcomeView, type CeremonyView, type KeyView, type OutcomeView } from '../custody/views.js';
import { adminRequest } from './admin-client.js';

export interface ChainOut {
  readonly assertions: readonly string[];
  readonly keys: ReadonlyArray<{ label: string; keyId: string; purpose: string; state: string }>;
}

/** Keys and ceremonies, the same from a local data directory and through the admin API. */
export interface CustodyOps {
  request(brand: string, action: CeremonyAction, params: Record<string, string>, expiresInSeconds?: number): Promise<OutcomeView>;
  approve(brand: string, id: number): Promise<OutcomeView>;
  ceremonies(brand: string, open?: boolean): Promise<CeremonyView[]>;
  ceremony(brand: string, id: number): Promise<CeremonyView>;
  keys(brand: string): Promise<KeyView[]>;
  health(brand: string): Promise<Finding[]>;
  chain(brand: string): Promise<ChainOut>;
}

/** On the appliance, as `principal`: the operator, or the person whose token was given. */
export function localCustodyOps(vault: Vault, principal: Principal): CustodyOps {
  const brandOf = (id: string) => vault.ceremonies.brand(id);
  const ofBrand = (brand: string, id: number) => vault.ceremonies.ofBrand(brand, id);
  return {
    request: async (brand, action, params, expiresInSeconds) =>
      outcomeView(await vault.ceremonies.request(principal, action, { ...params, brand }, expiresInSeconds !== undefined ? { expiresInSeconds } : {}), brand),
    approve: async (brand, id) => {
      await ofBrand(brand, id);
      return outcomeView(await vault.ceremonies.approve(principal, id), brand);
    },
    ceremonies: async (brand, open) => (await vault.ceremonies.list({ brand, ...(open !== undefined ? { open } : {}) })).map((c) => ceremonyView(c, brand)),
    ceremony: async (brand, id) => ceremonyView(await ofBrand(brand, id), brand),
    keys: async (brand) => keyViews(await vault.custody.keys.ofBrand((await brandOf(brand)).id), new Date()),
    health: async (brand) => (await vault.keyHealth()).filter((f) => f.brand === brand),
    chain: async (brand) => {
      const chain = await exportChain(vault.custody, await brandOf(brand), new Date());
      return { assertions: chain.assertions.map((a) => a.encode().toString('utf8')), keys: chain.keys };
    },
  };
}

/** Through a vault's admin API with a personal access token. */
export function remoteCustodyOps(baseUrl: string, token: string): CustodyOps {
  const request = adminRequest(baseUrl, token);
  const b = (brand: string) => `/api/v1/brands/${encodeURIComponent(brand)}`;
  return {
    request: (brand, action, params, expiresInSeconds) => request('POST', `${b(brand)}/ceremonies`, { action, params, ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}) }),
    approve: (brand, id) => request('POST', `${b(brand)}/ceremonies/${id}/approve`),
    ceremonies: async (brand, open) => (await request<{ items: CeremonyView[] }>('GET', `${b(brand)}/ceremonies${open !== undefined ? `?open=${open}` : ''}`)).items,
    ceremony: (brand, id) => request('GET', `${b(brand)}/ceremonies/${id}`),
    keys: async (brand) => (await request<{ keys: KeyView[] }>('GET', `${b(brand)}/keys`)).keys,
    health: async (brand) => (await request<{ findings: Finding[] }>('GET', `${b(brand)}/keys/health`)).findings,
    chain: (brand) => request('GET', `${b(brand)}/chain`),
  };
}
