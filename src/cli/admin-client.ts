import { AccountsError } from '../accounts/errors.js';
import { OPERATOR } from '../accounts/principal.js';
import type { Role, StoreKind } from '../accounts/roles.js';
import type { AccountsService } from '../accounts/service.js';
import { CliError } from './io.js';

/** Shapes as the admin API returns them (JSON), so both ways print alike. */
export interface StoreOut {
  id: string;
  name: string;
  kind: StoreKind;
  parentId: string | null;
  roles: Role[];
}
export interface StoreNodeOut extends StoreOut {
  children: StoreNodeOut[];
}
export interface PersonOut {
  id: number;
  email: string;
  displayName: string;
  status: string;
}
export interface GrantOut {
  person: { email: string; displayName: string };
  role: Role;
  inheritedFrom: string | null;
}
export interface TokenOut {
  id: number;
  name: string;
  prefix: string;
  stores: string[] | null;
  roles: Role[] | null;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/**
 * What the store, person, role and token commands do, whether they act on
 * a local data directory (as the appliance's operator) or on a vault's
 * admin API (as the person whose access token they carry).
 */
export interface AdminOps {
  createStore(input: { id: string; name: string; parent: string; kind: 'product' | 'ecosystem'; administrators?: string[] }): Promise<StoreOut>;
  listStores(filter: { brand?: string; kind?: StoreKind; parent?: string }): Promise<StoreOut[]>;
  tree(store: string): Promise<StoreNodeOut>;
  roots(): Promise<string[]>;
  addPerson(email: string, displayName?: string): Promise<PersonOut>;
  listPeople(filter: { email?: string }): Promise<PersonOut[]>;
  grant(store: string, email: string, role: Role): Promise<void>;
  revoke(store: string, email: string, role: Role): Promise<void>;
  listGrants(store: string): Promise<GrantOut[]>;
  createToken(input: { name: string; days: number; stores?: string[]; roles?: Role[]; email?: string }): Promise<{ token: TokenOut; secret: string }>;
  listTokens(email?: string): Promise<TokenOut[]>;
  revokeToken(id: number): Promise<void>;
}

const json = <T>(v: unknown): T => JSON.parse(JSON.stringify(v)) as T;

/** On the appliance itself: the operator holds every role. */
export function localOps(accounts: AccountsService): AdminOps {
  const all = async <T>(fetchPage: (after?: string) => Promise<{ items: T[]; next: string | null }>): Promise<T[]> => {
    const out: T[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await fetchPage(after);
      out.push(...page.items);
      if (!page.next) return out;
      after = page.next;
    }
  };
  return {
    createStore: async (i) => {
      const s = await accounts.createStore(OPERATOR, { id: i.id, name: i.name, parentId: i.parent, kind: i.kind, ...(i.administrators ? { administrators: i.administrators } : {}) });
      return json(await accounts.store(OPERATOR, s.id));
    },
    listStores: async (f) => json(await all((after) => accounts.listStores(OPERATOR, { ...f, ...(after ? { after } : {}), limit: 500 }))),
    tree: async (store) => json(await accounts.storeTree(OPERATOR, store)),
    roots: async () => (await accounts.listStores(OPERATOR, { kind: 'brand', limit: 500 })).items.map((s) => s.id),
    addPerson: async (email, name) => json(await accounts.addPerson(OPERATOR, email, name ?? '')),
    listPeople: async (f) => json(await all((after) => accounts.listPeople(OPERATOR, { ...(f.email ? { email: f.email } : {}), ...(after ? { after: Number(after) } : {}), limit: 500 }))),
    grant: async (store, email, role) => void (await accounts.grant(OPERATOR, store, email, role)),
    revoke: (store, email, role) => accounts.revoke(OPERATOR, store, email, role),
    listGrants: async (store) => json(await accounts.listGrants(store)),
    createToken: async (i) => {
      if (!i.email) throw new CliError('on the appliance, name whose token it is: --email');
      return json(await accounts.createToken(OPERATOR, { name: i.name, days: i.days, forEmail: i.email, ...(i.stores ? { stores: i.stores } : {}), ...(i.roles ? { roles: i.roles } : {}) }));
    },
    listTokens: async (email) => {
      if (!email) throw new CliError('on the appliance, name whose tokens to list: --email');
      return json(await accounts.listTokens(OPERATOR, email));
    },
    revokeToken: (id) => accounts.revokeToken(OPERATOR, id),
  };
}

/** Refusals from the admin API, shown as the server worded them. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One admin API call with a personal access token: the answer's JSON, or its refusal as an AdminApiError. */
export type AdminRequest = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export function adminRequest(baseUrl: string, token: string, http: typeof fetch = fetch): AdminRequest {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await http(new URL(path.replace(/^\//, ''), base), {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw new CliError(`cannot reach ${base}: ${(e as Error).message}`, 3);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new AdminApiError(res.status, 'ERR_INTERNAL', `${base} answered ${res.status} without JSON: is it a serial-vault admin listener?`);
    }
    if (!res.ok) throw new AdminApiError(res.status, String(data['code']), String(data['message']));
    return data as T;
  };
}

/** Against a vault's admin API, with a personal access token. */
export function remoteOps(baseUrl: string, token: string, http: typeof fetch = fetch): AdminOps {
  const request = adminRequest(baseUrl, token, http);
  const all = async <T>(path: string, cursor: string): Promise<T[]> => {
    const out: T[] = [];
    let after: string | null = null;
    for (;;) {
      const sep = path.includes('?') ? '&' : '?';
      const page: { items: T[]; next: string | null } = await request('GET', `${path}${sep}limit=500${after ? `&${cursor}=${encodeURIComponent(after)}` : ''}`);
      out.push(...page.items);
      if (!page.next) return out;
      after = page.next;
    }
  };
  const q = (params: Record<string, string | undefined>) => {
    const s = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    return s ? `?${s}` : '';
  };
  const e = encodeURIComponent;
  return {
    createStore: (i) => request('POST', 'api/v1/stores', { id: i.id, name: i.name, parent: i.parent, kind: i.kind, ...(i.administrators ? { administrators: i.administrators } : {}) }),
    listStores: (f) => all(`api/v1/stores${q(f)}`, 'after'),
    tree: (store) => request('GET', `api/v1/stores/${e(store)}/tree`),
    roots: async () => {
      // The tops of what the caller can see: stores whose parent is out of sight.
      const stores = await all<StoreOut>('api/v1/stores', 'after');
      const ids = new Set(stores.map((s) => s.id));
      return stores.filter((s) => s.parentId === null || !ids.has(s.parentId)).map((s) => s.id);
    },
    addPerson: (email, name) => request('POST', 'api/v1/people', { email, ...(name ? { displayName: name } : {}) }),
    listPeople: (f) => all(`api/v1/people${q(f)}`, 'after'),
    grant: (store, email, role) => request('POST', `api/v1/stores/${e(store)}/grants`, { email, role }),
    revoke: (store, email, role) => request('DELETE', `api/v1/stores/${e(store)}/grants/${e(role)}/${e(email)}`),
    listGrants: async (store) => (await request<{ items: GrantOut[] }>('GET', `api/v1/stores/${e(store)}/grants`)).items,
    createToken: (i) => {
      if (i.email) throw new CliError('over the admin API a token is made for its caller: drop --email');
      return request('POST', 'api/v1/tokens', { name: i.name, expiresInDays: i.days, ...(i.stores ? { stores: i.stores } : {}), ...(i.roles ? { roles: i.roles } : {}) });
    },
    listTokens: async (email) => {
      if (email) throw new CliError('over the admin API you list your own tokens: drop --email');
      return (await request<{ items: TokenOut[] }>('GET', 'api/v1/tokens')).items;
    },
    revokeToken: (id) => request('DELETE', `api/v1/tokens/${id}`),
  };
}

/** A refusal from either side, as one line with its code. */
export function adminCliError(e: unknown): unknown {
  if (e instanceof AccountsError) return new CliError(`${e.message} [${e.code}]`, 1);
  if (e instanceof AdminApiError) return new CliError(`${e.message} [${e.code}]`, e.status === 503 ? 3 : 1);
  return e;
}
