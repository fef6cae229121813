import { createReadStream, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY } from '../../src/accounts/policy.js';
import { OPERATOR } from '../../src/accounts/principal.js';
import { ROLES, type Role } from '../../src/accounts/roles.js';
import { PUBLIC_API_PATHS, adminApp } from '../../src/http/admin-app.js';
import type { AdminRoute } from '../../src/http/admin/route.js';
import { buildSnap } from '../support/snaps.js';
import { startAdminVault, testDataDir, type AdminTestVault } from '../support/vault.js';

const BRAND_STORE = 'demo-brand';

interface Call {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

async function call(base: string, method: string, path: string, options: { token?: string; cookie?: string; csrf?: string; body?: unknown; contentType?: string } = {}): Promise<Call> {
  const headers: Record<string, string> = {};
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  if (options.cookie) headers['cookie'] = options.cookie;
  if (options.csrf) headers['x-csrf-token'] = options.csrf;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(new URL(path.replace(/^\//, ''), base), {
    method: method.toUpperCase(),
    headers,
    ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
    redirect: 'manual',
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body, text };
}

/**
 * One request per admin route, as the matrix sends it. Each may run once
 * per role: later runs of a change may meet a conflict (409) or a missing
 * item (404), which still shows the policy let them through. A route added
 * without a sample here fails the matrix test.
 */
const SNAP = 'matrix-snap';
const SNAP_PATH = `/api/v1/stores/${BRAND_STORE}/snaps/${SNAP}`;

const SAMPLES: Record<string, (who: string, ids: { target: number; upload: string }) => { path: string; body?: unknown; contentType?: string }> = {
  'get /api/v1/me': () => ({ path: '/api/v1/me' }),
  'get /api/v1/brands': () => ({ path: '/api/v1/brands' }),
  'get /api/v1/brands/:brand': () => ({ path: `/api/v1/brands/${BRAND_STORE}` }),
  'get /api/v1/stores': () => ({ path: '/api/v1/stores' }),
  'post /api/v1/stores': (who) => ({ path: '/api/v1/stores', body: { id: `made-by-${who}`, name: `Made by ${who}`, parent: BRAND_STORE, kind: 'product' } }),
  'get /api/v1/stores/:store': () => ({ path: `/api/v1/stores/${BRAND_STORE}` }),
  'patch /api/v1/stores/:store': (who) => ({ path: `/api/v1/stores/${BRAND_STORE}`, body: { name: `Demo Brand (${who})` } }),
  'get /api/v1/stores/:store/tree': () => ({ path: `/api/v1/stores/${BRAND_STORE}/tree` }),
  'get /api/v1/stores/:store/grants': () => ({ path: `/api/v1/stores/${BRAND_STORE}/grants` }),
  'post /api/v1/stores/:store/grants': () => ({ path: `/api/v1/stores/${BRAND_STORE}/grants`, body: { email: 'target@matrix.test', role: 'viewer' } }),
  'delete /api/v1/stores/:store/grants/:role/:email': () => ({ path: `/api/v1/stores/${BRAND_STORE}/grants/viewer/target@matrix.test` }),
  'get /api/v1/stores/:store/audit': () => ({ path: `/api/v1/stores/${BRAND_STORE}/audit?limit=5` }),
  'get /api/v1/people': () => ({ path: '/api/v1/people' }),
  'post /api/v1/people': (who) => ({ path: '/api/v1/people', body: { email: `added-by-${who}@matrix.test`, displayName: `Added by ${who}` } }),
  'get /api/v1/people/:person': (_who, ids) => ({ path: `/api/v1/people/${ids.target}` }),
  'patch /api/v1/people/:person': (who, ids) => ({ path: `/api/v1/people/${ids.target}`, body: { displayName: `Target (${who})` } }),
  'get /api/v1/tokens': () => ({ path: '/api/v1/tokens' }),
  'post /api/v1/tokens': () => ({ path: '/api/v1/tokens', body: { name: 'matrix', expiresInDays: 1 } }),
  'delete /api/v1/tokens/:token': () => ({ path: '/api/v1/tokens/999999' }),
  'get /api/v1/stores/:store/snaps': () => ({ path: `/api/v1/stores/${BRAND_STORE}/snaps` }),
  'post /api/v1/stores/:store/snaps': (who) => ({ path: `/api/v1/stores/${BRAND_STORE}/snaps`, body: { name: `reg-${who}` } }),
  'get /api/v1/stores/:store/snaps/:name': () => ({ path: SNAP_PATH }),
  'put /api/v1/stores/:store/snaps/:name/collaborators': () => ({ path: `${SNAP_PATH}/collaborators`, body: { collaborators: ['collaborator@matrix.test'] } }),
  'post /api/v1/uploads': () => ({ path: '/api/v1/uploads', body: 'not a snap', contentType: 'application/octet-stream' }),
  'post /api/v1/stores/:store/snaps/:name/revisions': (_who, ids) => ({ path: `${SNAP_PATH}/revisions`, body: { 'upload-id': ids.upload } }),
  'get /api/v1/stores/:store/snaps/:name/uploads/:upload': (_who, ids) => ({ path: `${SNAP_PATH}/uploads/${ids.upload}` }),
  'post /api/v1/stores/:store/snaps/:name/revisions/:revision/review': () => ({ path: `${SNAP_PATH}/revisions/1/review`, body: { approve: true } }),
  'post /api/v1/stores/:store/snaps/:name/releases': () => ({ path: `${SNAP_PATH}/releases`, body: [{ revision: 1, channel: 'edge' }] }),
  'get /api/v1/stores/:store/snaps/:name/releases': () => ({ path: `${SNAP_PATH}/releases` }),
  'get /api/v1/stores/:store/snaps/:name/download': () => ({ path: `${SNAP_PATH}/download?arch=amd64` }),
  'get /api/v1/stores/:store/snaps/:name/revisions/:revision/file': () => ({ path: `${SNAP_PATH}/revisions/1/file` }),
  'put /api/v1/stores/:store/curation/:name': () => ({ path: `/api/v1/stores/${BRAND_STORE}/curation/${SNAP}`, body: { mode: null } }),
  'put /api/v1/stores/:store/pins/:name': () => ({ path: `/api/v1/stores/${BRAND_STORE}/pins/${SNAP}`, body: { channel: 'stable', revision: null } }),
  'get /api/v1/stores/:store/review-policy': () => ({ path: `/api/v1/stores/${BRAND_STORE}/review-policy` }),
  'put /api/v1/stores/:store/review-policy': () => ({ path: `/api/v1/stores/${BRAND_STORE}/review-policy`, body: { reviewRequired: false } }),
  'get /api/v1/brands/:brand/keys': () => ({ path: `/api/v1/brands/${BRAND_STORE}/keys` }),
  'get /api/v1/brands/:brand/keys/health': () => ({ path: `/api/v1/brands/${BRAND_STORE}/keys/health` }),
  'get /api/v1/brands/:brand/chain': () => ({ path: `/api/v1/brands/${BRAND_STORE}/chain` }),
  'get /api/v1/brands/:brand/ceremonies': () => ({ path: `/api/v1/brands/${BRAND_STORE}/ceremonies` }),
  'get /api/v1/brands/:brand/ceremonies/:id': () => ({ path: `/api/v1/brands/${BRAND_STORE}/ceremonies/999999` }),
  'post /api/v1/brands/:brand/ceremonies': () => ({ path: `/api/v1/brands/${BRAND_STORE}/ceremonies`, body: { action: 'ceremony.policy', params: { approvals: '2' } } }),
  'post /api/v1/brands/:brand/ceremonies/:id/approve': () => ({ path: `/api/v1/brands/${BRAND_STORE}/ceremonies/999999/approve` }),
  'get /api/v1/brands/:brand/stations': () => ({ path: `/api/v1/brands/${BRAND_STORE}/stations` }),
  'get /api/v1/brands/:brand/stations/:station': () => ({ path: `/api/v1/brands/${BRAND_STORE}/stations/demo-model` }),
  'post /api/v1/brands/:brand/stations': (who) => ({ path: `/api/v1/brands/${BRAND_STORE}/stations`, body: { name: `line-${who}`, models: ['demo-model'], perHour: 10 } }),
  'patch /api/v1/brands/:brand/stations/:station': () => ({ path: `/api/v1/brands/${BRAND_STORE}/stations/demo-model`, body: { perDay: 1000 } }),
  'post /api/v1/brands/:brand/stations/:station/api-keys': (who) => ({ path: `/api/v1/brands/${BRAND_STORE}/stations/demo-model/api-keys`, body: { name: `key-${who}` } }),
  'post /api/v1/brands/:brand/stations/:station/allowlist': () => ({ path: `/api/v1/brands/${BRAND_STORE}/stations/demo-model/allowlist`, body: 'SN-1\n', contentType: 'text/csv' }),
  'get /api/v1/brands/:brand/stations/:station/allowlist': () => ({ path: `/api/v1/brands/${BRAND_STORE}/stations/demo-model/allowlist` }),
  'get /api/v1/brands/:brand/remodel-rules': () => ({ path: `/api/v1/brands/${BRAND_STORE}/remodel-rules` }),
  'post /api/v1/brands/:brand/remodel-rules': () => ({ path: `/api/v1/brands/${BRAND_STORE}/remodel-rules`, body: { from: 'demo-model', to: 'demo-model' } }),
  'delete /api/v1/brands/:brand/remodel-rules': () => ({ path: `/api/v1/brands/${BRAND_STORE}/remodel-rules?from=demo-model&to=demo-model` }),
  'get /api/v1/brands/:brand/reports/registrations': () => ({ path: `/api/v1/brands/${BRAND_STORE}/reports/registrations?by=day` }),
  'get /api/v1/brands/:brand/reports/registrations.csv': () => ({ path: `/api/v1/brands/${BRAND_STORE}/reports/registrations.csv` }),
  'get /api/v1/brands/:brand/models': () => ({ path: `/api/v1/brands/${BRAND_STORE}/models` }),
  'get /api/v1/brands/:brand/models/:model/assertion': () => ({ path: `/api/v1/brands/${BRAND_STORE}/models/demo-model/assertion` }),
  'get /api/v1/brands/:brand/issuances': () => ({ path: `/api/v1/brands/${BRAND_STORE}/issuances?serial=SN-*` }),
  'get /api/v1/brands/:brand/issuances.csv': () => ({ path: `/api/v1/brands/${BRAND_STORE}/issuances.csv?model=demo-model` }),
  'get /api/v1/brands/:brand/audit/verify': () => ({ path: `/api/v1/brands/${BRAND_STORE}/audit/verify` }),
  'post /api/v1/brands/:brand/system-users': (who) => ({ path: `/api/v1/brands/${BRAND_STORE}/system-users`, body: { email: `${who}@matrix.test`, username: 'matrix', models: ['demo-model'], sshKeys: ['ssh-ed25519 AAAA matrix'] } }),
  'post /api/v1/brands/:brand/hardware-identities': () => ({ path: `/api/v1/brands/${BRAND_STORE}/hardware-identities`, body: '', contentType: 'application/x.ubuntu.assertion' }),
  'get /api/v1/brands/:brand/hardware-identities': () => ({ path: `/api/v1/brands/${BRAND_STORE}/hardware-identities` }),
  'get /api/v1/brands/:brand/system-users': () => ({ path: `/api/v1/brands/${BRAND_STORE}/system-users` }),
  'get /api/v1/brands/:brand/system-users/:email': () => ({ path: `/api/v1/brands/${BRAND_STORE}/system-users/nobody@matrix.test` }),
  'get /api/v1/sync/conflicts': () => ({ path: `/api/v1/sync/conflicts?brand=${BRAND_STORE}` }),
  'get /api/v1/brands/:brand/appliances': () => ({ path: `/api/v1/brands/${BRAND_STORE}/appliances` }),
  'get /api/v1/brands/:brand/appliances/:appliance': () => ({ path: `/api/v1/brands/${BRAND_STORE}/appliances/matrix-appliance` }),
  'post /api/v1/brands/:brand/appliances': (who) => ({ path: `/api/v1/brands/${BRAND_STORE}/appliances`, body: { name: `app-${who}`, store: BRAND_STORE } }),
  'patch /api/v1/brands/:brand/appliances/:appliance': () => ({ path: `/api/v1/brands/${BRAND_STORE}/appliances/matrix-appliance`, body: { disabled: true } }),
};

const key = (r: { method: string; path: string }) => `${r.method.toLowerCase()} ${r.path}`;

/** What the policy table says for someone holding only `role` on the brand store (or nothing). */
function expectedAllowed(route: AdminRoute, role: Role | undefined): boolean {
  const rule = POLICY[route.action];
  if (rule.scope === 'signed-in') return true;
  return role !== undefined && rule.roles.includes(role);
}

describe.each(['sqlite', 'pg'] as const)('the admin API on %s', (database) => {
  let dir: string;
  let v: AdminTestVault;
  let routes: readonly AdminRoute[];
  const tokens = new Map<string, string>();
  let targetId: number;
  let uploadId: string;

  beforeAll(async () => {
    dir = testDataDir();
    v = await startAdminVault(dir, database);
    const accounts = v.vault.accounts;
    await accounts.createStore(OPERATOR, { id: 'line-a', name: 'Line A', parentId: BRAND_STORE, kind: 'product' });
    for (const role of ROLES) {
      await accounts.addPerson(OPERATOR, `${role}@matrix.test`, `Holds ${role}`);
      await accounts.grant(OPERATOR, BRAND_STORE, `${role}@matrix.test`, role);
      tokens.set(role, (await accounts.createToken(OPERATOR, { name: 'matrix', days: 1, forEmail: `${role}@matrix.test` })).secret);
    }
    await accounts.addPerson(OPERATOR, 'none@matrix.test', 'Holds nothing');
    tokens.set('none', (await accounts.createToken(OPERATOR, { name: 'matrix', days: 1, forEmail: 'none@matrix.test' })).secret);
    targetId = (await accounts.addPerson(OPERATOR, 'target@matrix.test', 'Target')).id;
    await accounts.grant(OPERATOR, 'line-a', 'target@matrix.test', 'viewer');
    // A snap of the publisher's, with the collaborator on it, one revision pushed and released.
    const publisher = (await accounts.authenticateToken(tokens.get('publisher')!, '127.0.0.1'))!;
    await v.vault.snaps.register(publisher, { name: SNAP, storeId: BRAND_STORE });
    await v.vault.snaps.setCollaborators(publisher, BRAND_STORE, SNAP, ['collaborator@matrix.test']);
    uploadId = (await v.vault.snaps.upload(publisher, createReadStream(buildSnap(dir, { name: SNAP, architectures: ['amd64'] })))).uploadId;
    await v.vault.snaps.push(publisher, BRAND_STORE, SNAP, uploadId);
    routes = adminApp({ metrics: v.vault.metrics, logger: v.vault.logger, ready: async () => ({ ok: true, problems: [] }), api: apiOptions(v) }).adminRoutes;
  }, 120_000);

  afterAll(async () => {
    await v?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('declares a policy action for every route registered under /api/v1, and has a matrix sample for each', () => {
    const app = adminApp({ metrics: v.vault.metrics, logger: v.vault.logger, ready: async () => ({ ok: true, problems: [] }), api: apiOptions(v) });
    const declared = new Set(app.adminRoutes.map(key));
    const registered = app.registeredRoutes.filter((r) => r.path.startsWith('/api/'));
    expect(registered.length).toBeGreaterThan(10);
    for (const r of registered) {
      if ((PUBLIC_API_PATHS as readonly string[]).includes(r.path)) continue;
      expect(declared, `${key(r)} is served but declares no policy action`).toContain(key(r));
    }
    for (const r of app.adminRoutes) {
      expect(POLICY[r.action], `${key(r)}: action ${r.action} is not in the policy table`).toBeDefined();
      expect(SAMPLES[key(r)], `${key(r)} has no sample request in the route × role matrix`).toBeDefined();
    }
  });

  it('refuses every route without a sign-in, with 401 and a JSON error', async () => {
    for (const r of routes) {
      const sample = SAMPLES[key(r)]!('anonymous', { target: targetId, upload: uploadId });
      const res = await call(v.adminUrl, r.method, sample.path, sample.body !== undefined ? { body: sample.body } : {});
      expect(res.status, key(r)).toBe(401);
      expect(res.headers.get('content-type'), key(r)).toBe('application/json');
      expect(res.body['code'], key(r)).toBe('ERR_UNAUTHENTICATED');
    }
  });

  it('allows or denies every route for every role exactly as the policy table says', async () => {
    const outcomes: string[] = [];
    for (const r of routes) {
      for (const who of [...ROLES, 'none'] as const) {
        const role = who === 'none' ? undefined : who;
        const sample = SAMPLES[key(r)]!(who, { target: targetId, upload: uploadId });
        const res = await call(v.adminUrl, r.method, sample.path, { token: tokens.get(who)!, ...(sample.body !== undefined ? { body: sample.body } : {}), ...(sample.contentType ? { contentType: sample.contentType } : {}) });
        const allowed = expectedAllowed(r, role);
        const line = `${key(r)} as ${who}: ${res.status} ${String(res.body['code'] ?? '')}`;
        outcomes.push(line);
        if (allowed) {
          expect([401, 403], line).not.toContain(res.status);
          expect(res.status, line).toBeLessThan(500);
        } else {
          expect(res.status, line).toBe(403);
          expect(res.body['code'], line).toBe('ERR_FORBIDDEN');
        }
      }
    }
    // Every route was tried for every role and for someone with no role at all.
    expect(outcomes).toHaveLength(routes.length * (ROLES.length + 1));
  });

  it('publishes an OpenAPI 3.1 document that validates and lists exactly the admin routes', async () => {
    const res = await call(v.adminUrl, 'get', '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(res.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const documented = Object.entries(res.body['paths'] as Record<string, Record<string, { 'x-policy-action': string }>>).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => `${method} ${path.replace(/\{(\w+)\}/g, ':$1')} ${op['x-policy-action']}`),
    );
    expect(documented.sort()).toEqual(routes.map((r) => `${key(r)} ${r.action}`).sort());
    const operationIds = Object.values(res.body['paths'] as Record<string, Record<string, { operationId: string }>>).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(new Set(operationIds).size).toBe(operationIds.length);
  });

  it('creates a token, uses it, revokes it, and then refuses it', async () => {
    const admin = tokens.get('admin')!;
    const made = await call(v.adminUrl, 'post', '/api/v1/tokens', { token: admin, body: { name: 'factory station 3', expiresInDays: 7, stores: ['line-a'], roles: ['admin'] } });
    expect(made.status).toBe(201);
    const secret = made.body['secret'] as string;
    const id = (made.body['token'] as { id: number }).id;
    expect(secret).toMatch(/^svp_/);
    expect(made.body['token']).not.toHaveProperty('hash');

    const me = await call(v.adminUrl, 'get', '/api/v1/me', { token: secret });
    expect(me.status).toBe(200);
    expect(me.body['roles']).toEqual({ 'line-a': ['admin'] });
    // Limited to line-a: the brand store is out of its reach.
    expect((await call(v.adminUrl, 'get', `/api/v1/stores/${BRAND_STORE}/grants`, { token: secret })).status).toBe(403);
    expect((await call(v.adminUrl, 'get', '/api/v1/stores/line-a/grants', { token: secret })).status).toBe(200);

    const listed = await call(v.adminUrl, 'get', '/api/v1/tokens', { token: admin });
    expect(JSON.stringify(listed.body)).not.toContain(secret.slice('svp_000000000000_'.length));

    expect((await call(v.adminUrl, 'delete', `/api/v1/tokens/${id}`, { token: admin })).status).toBe(204);
    const after = await call(v.adminUrl, 'get', '/api/v1/me', { token: secret });
    expect(after.status).toBe(401);
    expect(after.body['code']).toBe('ERR_UNAUTHENTICATED');
    expect(after.headers.get('www-authenticate')).toContain('invalid_token');

    // The audit log has both, with the actor and no secret.
    const audit = await call(v.adminUrl, 'get', '/api/v1/stores/demo-brand/audit', { token: admin });
    expect(audit.status).toBe(200);
    const all = await v.vault.db('audit_log').whereIn('action', ['token.create', 'token.revoke']).select('*');
    expect(all.map((e) => e.action)).toEqual(expect.arrayContaining(['token.create', 'token.revoke']));
    expect(JSON.stringify(all)).not.toContain(secret.slice('svp_000000000000_'.length));
  });

  it('answers a browser session’s changes only with the CSRF token, and reads with the cookie alone', async () => {
    const { sessionId } = await v.vault.accounts.signIn({ email: 'admin@matrix.test', emailVerified: true });
    const cookie = `sv_session=${sessionId}`;
    const me = await call(v.adminUrl, 'get', '/api/v1/me', { cookie });
    expect(me.status).toBe(200);
    const csrf = me.body['csrfToken'] as string;
    expect(csrf).toBeTruthy();
    const body = { email: 'csrf@matrix.test', displayName: 'CSRF' };
    const refused = await call(v.adminUrl, 'post', '/api/v1/people', { cookie, body });
    expect(refused.status).toBe(403);
    expect(refused.body['code']).toBe('ERR_CSRF');
    expect((await call(v.adminUrl, 'post', '/api/v1/people', { cookie, csrf: 'x'.repeat(43), body })).body['code']).toBe('ERR_CSRF');
    expect(await v.vault.db('people').where({ email: 'csrf@matrix.test' }).first()).toBeUndefined();
    const ok = await call(v.adminUrl, 'post', '/api/v1/people', { cookie, csrf, body });
    expect(ok.status).toBe(201);
    // A CSRF token belongs to its session.
    const other = await v.vault.accounts.signIn({ email: 'admin@matrix.test', emailVerified: true });
    expect((await call(v.adminUrl, 'post', '/api/v1/people', { cookie: `sv_session=${other.sessionId}`, csrf, body: { email: 'x@matrix.test' } })).body['code']).toBe('ERR_CSRF');
  });

  it('refuses bad input with 400 and names each field; wrong media type 415; unknown path 404; all as application/json', async () => {
    const admin = tokens.get('admin')!;
    const bad = await call(v.adminUrl, 'post', '/api/v1/stores', { token: admin, body: { name: '', parent: BRAND_STORE, kind: 'franchise' } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/json');
    expect(bad.body['code']).toBe('ERR_BODY_INVALID');
    const fields = (bad.body['error_list'] as { field: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(['body.kind', 'body.name']);

    const typo = await call(v.adminUrl, 'post', '/api/v1/people', { token: admin, body: { email: 'typo@matrix.test', displayname: 'Typo' } });
    expect(typo.status).toBe(400);
    expect(typo.body['message']).toMatch(/body: Unrecognized key: "displayname"/);
    const notJson = await call(v.adminUrl, 'post', '/api/v1/people', { token: admin, body: 'email=x', contentType: 'application/x-www-form-urlencoded' });
    expect(notJson.status).toBe(415);
    const broken = await call(v.adminUrl, 'post', '/api/v1/people', { token: admin, body: '{"email": ' });
    expect(broken.status).toBe(400);
    const missing = await call(v.adminUrl, 'get', '/api/v1/nothing-here', { token: admin });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/json');
    const conflict = await call(v.adminUrl, 'delete', `/api/v1/stores/${BRAND_STORE}/grants/admin/admin@matrix.test`, { token: admin });
    expect(conflict.status === 204 || conflict.body['code'] === 'ERR_LAST_ADMIN').toBe(true);
  });

  it('says plainly when single sign-on is not configured', async () => {
    const res = await fetch(new URL('auth/login', v.adminUrl));
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('single sign-on is not configured on this vault');
  });

  it('keeps the last administrator of a store over HTTP too (409 ERR_LAST_ADMIN)', async () => {
    const partner = await call(v.adminUrl, 'post', '/api/v1/stores', { token: tokens.get('admin')!, body: { id: 'reseller', name: 'Reseller', parent: BRAND_STORE, kind: 'ecosystem' } });
    expect(partner.status).toBe(201);
    expect(partner.body['roles']).toEqual(['admin']);
    const res = await call(v.adminUrl, 'delete', '/api/v1/stores/reseller/grants/admin/admin@matrix.test', { token: tokens.get('admin')! });
    expect(res.status).toBe(409);
    expect(res.body['code']).toBe('ERR_LAST_ADMIN');
  });

  it('never writes token secrets, session cookies or the HSM PIN to the log', async () => {
    const logs = v.logs();
    expect(logs).toContain('"path":"/api/v1/me"');
    for (const secret of tokens.values()) expect(logs).not.toContain(secret.slice('svp_000000000000_'.length));
    expect(logs).not.toContain('sv_session=');
    const pin = readFileSync(join(dir, 'secrets', 'user-pin'), 'utf8').trim();
    expect(logs).not.toContain(pin);
    expect(logs).not.toMatch(/authorization|Bearer /i);
  });
});

function apiOptions(v: AdminTestVault) {
  return {
    accounts: v.vault.accounts,
    snaps: v.vault.snaps,
    custody: { custody: v.vault.custody, ceremonies: v.vault.ceremonies, keyHealth: () => v.vault.keyHealth() },
    provisioning: v.vault.provisioning,
    audit: v.vault.audit,
    ...(v.vault.sync.role === 'central' ? { appliances: v.vault.sync.appliances, syncConflicts: v.vault.sync.conflicts } : {}),
    sso: undefined,
    cookieKey: Buffer.alloc(32, 1),
    publicUrl: new URL(v.adminUrl),
    sessionTtlMs: 3600_000,
    maxBodyBytes: 65536,
    version: 'test',
  };
}
