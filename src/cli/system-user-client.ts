import type { Vault } from '../app.js';
import { actorOf, type Principal } from '../accounts/principal.js';
import { systemUserSummary, type SystemUserInput, type SystemUserSummary } from '../provisioning/system-users.js';
import { AdminApiError, adminRequest } from './admin-client.js';
import { CliError } from './io.js';

/** system-user assertions, the same from a local data directory and through the admin API. */
export interface SystemUserOps {
  create(input: SystemUserInput): Promise<{ revision: number; assertion: string }>;
  /** The latest revision, as its text. */
  get(brand: string, email: string): Promise<string>;
  list(brand: string): Promise<SystemUserSummary[]>;
}

export function localSystemUserOps(vault: Vault, principal: Principal): SystemUserOps {
  const service = vault.provisioning.systemUsers;
  return {
    create: async (input) => {
      const a = await service.create(input, actorOf(principal));
      return { revision: a.revision, assertion: a.encode().toString('utf8') };
    },
    get: async (brand, email) => (await service.get(brand, email)).encode().toString('utf8'),
    list: async (brand) => (await service.list(brand)).map(systemUserSummary),
  };
}

export function remoteSystemUserOps(baseUrl: string, token: string, http: typeof fetch = fetch): SystemUserOps {
  const request = adminRequest(baseUrl, token, http);
  const b = (brand: string) => `api/v1/brands/${encodeURIComponent(brand)}/system-users`;
  return {
    create: ({ brand, ...rest }) => request('POST', b(brand), JSON.parse(JSON.stringify(rest)) as unknown),
    list: async (brand) => (await request<{ items: SystemUserSummary[] }>('GET', b(brand))).items,
    // The one answer that is an assertion, not JSON.
    get: async (brand, email) => {
      const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
      let res: Response;
      try {
        res = await http(new URL(`${b(brand)}/${encodeURIComponent(email)}`, base), { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
      } catch (e) {
        throw new CliError(`cannot reach ${base}: ${(e as Error).message}`, 3);
      }
      if (res.ok) return res.text();
      const data = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
      throw new AdminApiError(res.status, data.code ?? 'ERR_INTERNAL', data.message ?? `${base} answered ${res.status}`);
    },
  };
}
