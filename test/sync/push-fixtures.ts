import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import pino from 'pino';
import { migrate, openDatabase, type Database } from '../../src/db/database.js';
import { pushRoutes } from '../../src/http/sync/push-routes.js';
import { syncApp } from '../../src/http/sync-app.js';
import { SyncError, type SyncErrorCode } from '../../src/sync/errors.js';
import { LeaseGrants } from '../../src/sync/leases.js';
import { PushReceiver, type PushReceiverOptions } from '../../src/sync/push-receiver.js';
import type { ApplianceContext, Upstream, UpstreamRequest } from '../../src/sync/upstream.js';
import { freshPostgresDatabase } from '../support/postgres.js';

export type Kind = 'sqlite' | 'pg';
export const BRAND = 'demo-brand';

export const APPLIANCES: Record<string, ApplianceContext> = {
  'token-aaaaaaaaaaaaaaaaaaaa': { id: 1, name: 'line-a', storeId: BRAND, brandId: 1, brandAccountId: BRAND },
  'token-bbbbbbbbbbbbbbbbbbbb': { id: 2, name: 'line-b', storeId: BRAND, brandId: 1, brandAccountId: BRAND },
  'token-otherrrrrrrrrrrrrrrr': { id: 3, name: 'other', storeId: 'other-brand', brandId: 2, brandAccountId: 'other-brand' },
};

const dirs: string[] = [];
export function removeDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function openTestDb(kind: Kind, connection?: string): Promise<{ db: Database; connection: string }> {
  if (kind === 'pg') {
    const url = connection ?? (await freshPostgresDatabase());
    const db = openDatabase({ client: 'pg', connection: url });
    await migrate(db);
    return { db, connection: url };
  }
  const dir = mkdtempSync(join(tmpdir(), 'sv-sync-'));
  dirs.push(dir);
  const db = openDatabase({ client: 'sqlite', filename: join(dir, 'vault.db') });
  await migrate(db);
  return { db, connection: '' };
}

/**
 * The rows central owns that these tests need: two brands, numbered and
 * proposed-serial models, a station. An appliance gets the same rows (as
 * its snapshot would bring them), then turns read-only.
 */
export async function seed(db: Database, role: 'authority' | 'appliance' = 'authority'): Promise<void> {
  const at = '2026-01-01T00:00:00Z';
  for (const [id, brand] of [
    [1, BRAND],
    [2, 'other-brand'],
  ] as const) {
    await db('brands').insert({ id, account_id: brand, display_name: brand, created_at: at });
    await db('assertions').insert({ id, type: 'account-key', primary_key: `k${id}`, encoded: 'x', created_at: at });
    await db('signing_keys').insert({ id, brand_id: id, label: `key-${id}`, key_id: `key-id-${id}`, purpose: 'brand', created_at: at });
  }
  const model = (id: number, brandId: number, name: string, policy: 'template' | 'device') => ({
    id,
    brand_id: brandId,
    name,
    assertion_id: brandId,
    signing_key_id: brandId,
    serial_policy: policy,
    serial_template: policy === 'template' ? '{model}-{n:08}' : null,
    created_at: at,
  });
  await db('models').insert([model(1, 1, 'numbered', 'template'), model(2, 1, 'proposed', 'device'), model(3, 2, 'foreign', 'template')]);
  await db('stations').insert({ id: 1, brand_id: BRAND, name: 'line-1', created_at: at });
  if (db.client.config.client === 'pg') await db.raw("select setval(pg_get_serial_sequence('models', 'id'), 10)");
  if (role === 'appliance') await db('sync_guard').where({ name: 'sync' }).update({ role: 'appliance' });
}

export interface Central {
  readonly db: Database;
  readonly url: string;
  readonly receiver: PushReceiver;
  close(): Promise<void>;
}

/** Central's push and lease routes on the real sync app, on port 0; appliances authenticate by the tokens above. */
export async function startCentral(db: Database, options: PushReceiverOptions = {}): Promise<Central> {
  const receiver = new PushReceiver(db, options);
  const app = syncApp(pushRoutes({ receiver, leases: new LeaseGrants(db) }), {
    authenticate: async (token) => {
      const a = APPLIANCES[token];
      if (!a) throw new SyncError('ERR_APPLIANCE_AUTH', 'unknown token');
      return a;
    },
    maxBodyBytes: 8 * 1024 * 1024,
    logger: pino({ level: 'silent' }),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { db, url, receiver, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * The smallest Upstream: fetch with the appliance's token, central's
 * refusals back as the SyncError it answered, anything that may pass as
 * ERR_UPSTREAM_UNAVAILABLE. `calls` counts requests per path.
 */
export class TestUpstream implements Upstream {
  readonly calls = new Map<string, number>();
  constructor(
    public url: string,
    private readonly token: string,
  ) {}

  async request<T>(method: 'GET' | 'POST', path: string, options: UpstreamRequest = {}): Promise<T> {
    this.calls.set(path, (this.calls.get(path) ?? 0) + 1);
    let res: Response;
    try {
      res = await fetch(new URL(path, this.url), {
        method,
        headers: { authorization: `Appliance ${this.token}`, 'content-type': 'application/json' },
        ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
        signal: AbortSignal.timeout(5000),
      });
    } catch {
      throw new SyncError('ERR_UPSTREAM_UNAVAILABLE', 'central cannot be reached');
    }
    const body = (await res.json()) as { error?: { code: SyncErrorCode; message: string } };
    if (res.status === 408 || res.status === 429 || res.status >= 500) throw new SyncError('ERR_UPSTREAM_UNAVAILABLE', `central answered ${res.status}`);
    if (body.error) throw new SyncError(body.error.code, body.error.message);
    return body as T;
  }

  stream(): Promise<Readable> {
    throw new Error('not used here');
  }
}

/** An issuance_log row as the appliance writes it (provisioning/serials.ts logRow). */
export function logRow(origin: string, serial: string, deviceKeyId: string, model = 'numbered'): Record<string, unknown> {
  return {
    brand_id: BRAND,
    model,
    serial,
    device_key_id: deviceKeyId,
    signing_key_id: 'key-id-1',
    outcome: 'issued',
    origin,
    station: 'line-1',
    issued_at: '2026-01-02T03:04:05Z',
  };
}

export async function post(url: string, token: string, path: string, body: unknown): Promise<{ status: number; body: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const res = await fetch(new URL(path, url), { method: 'POST', headers: { authorization: `Appliance ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } & Record<string, unknown> };
}
