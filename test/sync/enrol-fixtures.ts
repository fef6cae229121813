import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { formatRfc3339, NodeSigner, PublicKey, signAssertion } from '../../src/assertions/index.js';
import { sendSyncJson, syncApp, type SyncRoute } from '../../src/http/sync-app.js';
import { enrolRoutes } from '../../src/http/sync/enrol-routes.js';
import { ApplianceAuth, challengeText } from '../../src/sync/appliance-auth.js';
import { ApplianceService } from '../../src/sync/appliances.js';
import { Enrolment, enrolmentProofDigest } from '../../src/sync/enrolment.js';
import type { TestVault } from '../support/vault.js';

const generate = promisify(generateKeyPair);

export interface SyncCentral {
  readonly url: string;
  readonly appliances: ApplianceService;
  readonly enrolment: Enrolment;
  readonly auth: ApplianceAuth;
  close(): Promise<void>;
}

/** Central's sync listener on loopback, with the enrolment routes and a `whoami` route that needs a token; `extra` routes beside them. */
export async function startSyncCentral(central: TestVault, options: { maxBodyBytes?: number; extra?: SyncRoute[] } = {}): Promise<SyncCentral> {
  const db = central.vault.db;
  const appliances = new ApplianceService(db);
  const enrolment = new Enrolment(db, central.vault.custody);
  const auth = new ApplianceAuth(db, { tokenMinutes: 15 });
  const whoami: SyncRoute = { name: 'whoami', method: 'GET', path: /^whoami$/, authenticated: true, handle: async (ctx, a) => sendSyncJson(ctx, 200, a) };
  const app = syncApp([...enrolRoutes({ enrolment, auth }), whoami, ...(options.extra ?? [])], { authenticate: (t) => auth.authenticate(t), maxBodyBytes: options.maxBodyBytes ?? 64 * 1024, logger: central.vault.logger });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, appliances, enrolment, auth, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function get(url: string, path: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL(path, url), { headers: token ? { authorization: `Appliance ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export const errorCode = (b: Record<string, unknown>) => (b['error'] as { code?: string } | undefined)?.code;

/** An appliance's keys made in Node (the enrolment and auth tests that need no appliance HSM). */
export interface NodeAppliance {
  readonly identity: KeyObject;
  readonly serials: KeyObject;
  readonly identityPublic: PublicKey;
  readonly serialsPublic: PublicKey;
}

export async function nodeAppliance(): Promise<NodeAppliance> {
  const [identity, serials] = await Promise.all([generate('rsa', { modulusLength: 2048 }), generate('rsa', { modulusLength: 4096 })]);
  return { identity: identity.privateKey, serials: serials.privateKey, identityPublic: PublicKey.fromKeyObject(identity.privateKey), serialsPublic: PublicKey.fromKeyObject(serials.privateKey) };
}

/** The enrolment body an honest appliance sends for `token`. */
export async function enrolBody(keys: NodeAppliance, token: string, name: string, brand: string, serialKeyName = `appliance-${name}`): Promise<Record<string, unknown>> {
  const request = await signAssertion(
    { type: 'account-key-request', 'account-id': brand, name: serialKeyName, since: formatRfc3339(new Date(Math.floor(Date.now() / 1000) * 1000)), 'public-key-sha3-384': keys.serialsPublic.id },
    Buffer.from(keys.serialsPublic.encoded),
    new NodeSigner(keys.serials),
  );
  const proof = Buffer.from(await new NodeSigner(keys.identity).signDigest(enrolmentProofDigest(token, name))).toString('base64');
  return {
    token,
    name,
    identity: { publicKey: keys.identityPublic.encoded },
    serialKeys: [{ label: `appliance-${name}-serials`, publicKey: keys.serialsPublic.encoded, accountKeyRequest: request.encode().toString('utf8') }],
    proof,
  };
}

/** The identity key's signature of a session challenge, base64. */
export const signChallenge = (key: KeyObject, nonce: string) => sign('sha512', Buffer.from(challengeText(nonce), 'utf8'), key).toString('base64');
