import { open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatRfc3339, signAssertion } from '../assertions/index.js';
import { CONFIG_FILE } from '../config.js';
import type { Database } from '../db/database.js';
import { keyStoreSigner, type KeyInfo, type KeyStore } from '../keystore/keystore.js';
import { enrolmentProofDigest, identityLabel, serialsLabel, type EnrolmentPreview, type EnrolmentResult } from './enrolment.js';
import { SyncError } from './errors.js';
import { UpstreamClient } from './upstream-client.js';

/** Settings (db/settings table) an enrolled appliance keeps: who it is towards central. */
export const SETTING_APPLIANCE_NAME = 'sync-appliance-name';
export const SETTING_IDENTITY_LABEL = 'sync-identity-label';
/** Central's URL, as the read-only refusal names it. */
export const SETTING_UPSTREAM_URL = 'sync-upstream-url';

export interface EnrolInput {
  /** Central's sync listener, e.g. https://central.example:8083/ */
  readonly upstream: string;
  /** The one-time enrolment token `serial-vault appliance add` printed on central. */
  readonly token: string;
  /** The name central gave it; checked against the token when given. */
  readonly name?: string;
  readonly caFile?: string;
  readonly timeoutMs?: number;
}

export interface EnrolParts {
  readonly db: Database;
  readonly keystore: KeyStore;
  /** Where config.json is: the upstream URL is written there. */
  readonly dataDir: string;
  readonly clock?: () => Date;
}

/** The identity an appliance has once enrolled, from its settings; undefined before. */
export async function applianceIdentity(db: Database): Promise<{ name: string; label: string } | undefined> {
  const rows = (await db('settings').whereIn('name', [SETTING_APPLIANCE_NAME, SETTING_IDENTITY_LABEL]).select('name', 'value')) as Array<{ name: string; value: string }>;
  const name = rows.find((r) => r.name === SETTING_APPLIANCE_NAME)?.value;
  const label = rows.find((r) => r.name === SETTING_IDENTITY_LABEL)?.value;
  return name && label ? { name, label } : undefined;
}

/**
 * The appliance's side of enrolment, run on a fresh data directory: asks
 * central what the token is for, makes the identity and serial keys in its
 * own HSM (the private halves never leave it), proves it holds them, and
 * keeps its identity and central's URL. A run cut short may be run again
 * with the same token: the keys it made are used, not made twice.
 */
export async function enrolAppliance(parts: EnrolParts, input: EnrolInput): Promise<EnrolmentResult> {
  const brands = Number(((await parts.db('brands').count({ n: '*' }).first()) as { n: number | string } | undefined)?.n ?? 0);
  if (brands > 0 || (await applianceIdentity(parts.db))) {
    throw new SyncError('ERR_ENROLMENT_NOT_EMPTY', 'this vault already holds brands or is enrolled: enrol a fresh data directory (serial-vault init --data-dir DIR), whose state then comes from central');
  }
  const client = new UpstreamClient({ url: input.upstream, caFile: input.caFile, timeoutMs: input.timeoutMs ?? 60_000 });
  const preview = await client.post<EnrolmentPreview>('enrol/preview', { token: input.token, ...(input.name ? { name: input.name } : {}) });
  const name = preview.appliance.name;
  const identity = await keyFor(parts.keystore, identityLabel(name));
  const serials = await keyFor(parts.keystore, serialsLabel(name));
  const now = parts.clock?.() ?? new Date();
  const request = await signAssertion(
    { type: 'account-key-request', 'account-id': preview.appliance.brand, name: preview.serialKeyName, since: formatRfc3339(new Date(Math.floor(now.getTime() / 1000) * 1000)), 'public-key-sha3-384': serials.keyId },
    Buffer.from(serials.publicKey.encoded),
    await keyStoreSigner(parts.keystore, serials.label),
  );
  const proof = Buffer.from(await parts.keystore.signDigest(identity.label, enrolmentProofDigest(input.token, name))).toString('base64');
  const result = await client.post<EnrolmentResult>('enrol', {
    token: input.token,
    name,
    identity: { publicKey: identity.publicKey.encoded },
    serialKeys: [{ label: serials.label, publicKey: serials.publicKey.encoded, accountKeyRequest: request.encode().toString('utf8') }],
    proof,
  });
  await keepSetting(parts.db, SETTING_APPLIANCE_NAME, name);
  await keepSetting(parts.db, SETTING_IDENTITY_LABEL, identity.label);
  await keepSetting(parts.db, SETTING_UPSTREAM_URL, client.url);
  await writeUpstream(parts.dataDir, client.url, input.caFile);
  return result;
}

async function keyFor(keystore: KeyStore, label: string): Promise<KeyInfo> {
  return (await keystore.find(label)) ?? (await keystore.generate(label));
}

async function keepSetting(db: Database, name: string, value: string): Promise<void> {
  await db('settings').insert({ name, value }).onConflict('name').merge();
}

/** Sets upstream.url (and caFile) in the data directory's config.json, keeping everything else; written whole or not at all. */
async function writeUpstream(dataDir: string, url: string, caFile: string | undefined): Promise<void> {
  const path = join(dataDir, CONFIG_FILE);
  const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  const upstream = { ...((config['upstream'] as Record<string, unknown> | undefined) ?? {}), url, ...(caFile ? { caFile } : {}) };
  const tmp = `${path}.enrol-${process.pid}`;
  const file = await open(tmp, 'w', (await stat(path)).mode & 0o777);
  try {
    await file.writeFile(`${JSON.stringify({ ...config, upstream }, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
}
