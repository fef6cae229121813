import type { Vault } from '../app.js';
import { actorOf, type Principal } from '../accounts/principal.js';
import type { RemodelRuleView, StationRequest, StationUpdate, StationView } from '../provisioning/factory-lines.js';
import type { ReportQuery, ReportRow } from '../provisioning/registration-stats.js';
import { adminRequest } from './admin-client.js';

/** Stations, remodel rules and reports, the same from a local data directory and through the admin API. */
export interface FactoryOps {
  createStation(brand: string, req: StationRequest): Promise<{ station: StationView; apiKey: string }>;
  stations(brand: string): Promise<StationView[]>;
  station(brand: string, name: string): Promise<StationView>;
  updateStation(brand: string, name: string, changes: StationUpdate): Promise<StationView>;
  createApiKey(brand: string, station: string, name?: string): Promise<{ apiKey: string; prefix: string }>;
  allowRemodel(brand: string, from: string, to: string, store?: string): Promise<RemodelRuleView>;
  removeRemodel(brand: string, from: string, to: string): Promise<void>;
  remodelRules(brand: string): Promise<RemodelRuleView[]>;
  report(brand: string, q: Omit<ReportQuery, 'brandId'>): Promise<ReportRow[]>;
}

/** On the appliance, as `principal` (the operator, or the person whose token was given). */
export function localFactoryOps(vault: Vault, principal: Principal): FactoryOps {
  const f = vault.provisioning.factory;
  const actor = actorOf(principal);
  return {
    createStation: (brand, req) => f.create(brand, req, actor),
    stations: (brand) => f.list(brand),
    station: async (brand, name) => f.view(await f.station(brand, name)),
    updateStation: (brand, name, changes) => f.update(brand, name, changes, actor),
    createApiKey: (brand, station, name) => f.createApiKey(brand, station, name, actor),
    allowRemodel: (brand, from, to, store) => f.allowRemodel(brand, from, to, store, actor),
    removeRemodel: (brand, from, to) => f.removeRemodel(brand, from, to, actor),
    remodelRules: (brand) => f.remodelRules(brand),
    report: (brand, q) => f.report(brand, q),
  };
}

const json = (o: object) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>;

/** Through a vault's admin API with a personal access token. */
export function remoteFactoryOps(baseUrl: string, token: string): FactoryOps {
  const request = adminRequest(baseUrl, token);
  const b = (brand: string) => `/api/v1/brands/${encodeURIComponent(brand)}`;
  const s = (brand: string, name: string) => `${b(brand)}/stations/${encodeURIComponent(name)}`;
  const query = (q: Record<string, string | Date | undefined>) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, v instanceof Date ? v.toISOString() : v);
    const text = p.toString();
    return text ? `?${text}` : '';
  };
  return {
    createStation: (brand, req) => request('POST', `${b(brand)}/stations`, json(req)),
    stations: async (brand) => (await request<{ items: StationView[] }>('GET', `${b(brand)}/stations`)).items,
    station: (brand, name) => request('GET', s(brand, name)),
    updateStation: (brand, name, changes) => request('PATCH', s(brand, name), json(changes)),
    createApiKey: (brand, station, name) => request('POST', `${s(brand, station)}/api-keys`, name ? { name } : {}),
    allowRemodel: (brand, from, to, store) => request('POST', `${b(brand)}/remodel-rules`, { from, to, ...(store ? { store } : {}) }),
    removeRemodel: async (brand, from, to) => {
      await request('DELETE', `${b(brand)}/remodel-rules${query({ from, to })}`);
    },
    remodelRules: async (brand) => (await request<{ items: RemodelRuleView[] }>('GET', `${b(brand)}/remodel-rules`)).items,
    report: async (brand, q) => (await request<{ items: ReportRow[] }>('GET', `${b(brand)}/reports/registrations${query({ station: q.station, model: q.model, from: q.from, until: q.until, by: q.by })}`)).items,
  };
}
