import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parse } from 'yaml';
import { TrustDatabase, encodeStream, type Assertion } from '../assertions/index.js';
import { StoreClientError, type StoreClient } from './store-client.js';

/** What the device has installed, and its session: snapd's state, in `<dir>/state.json`. */
export interface DeviceState {
  session?: string;
  snaps: Record<string, { snapId: string; revision: number; channel: string; type: string }>;
}

export async function readState(dir: string): Promise<DeviceState> {
  try {
    return JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as DeviceState;
  } catch {
    return { snaps: {} };
  }
}

export async function writeState(dir: string, state: DeviceState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, 'state.json.tmp');
  await writeFile(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  await rename(tmp, join(dir, 'state.json'));
}

export interface Installed {
  readonly name: string;
  readonly snapId: string;
  readonly revision: number;
  readonly channel: string;
  readonly file: string;
  readonly assertions: readonly Assertion[];
}

type ActionResult = Record<string, unknown> & { snap?: Record<string, unknown> };

function actionError(r: ActionResult, what: string): StoreClientError {
  const e = r['error'] as { code?: string; message?: string; extra?: { releases?: Array<{ architecture: string; channel: string }> } } | undefined;
  const where = e?.extra?.releases?.length ? ` (available in ${e.extra.releases.map((x) => `${x.channel} for ${x.architecture}`).join(', ')})` : '';
  return new StoreClientError(`cannot ${what}: ${e?.code ?? 'error'}: ${e?.message ?? ''}${where}`);
}

/** The assertions a snap's revision needs, prerequisites followed as snapd's fetcher does (it re-fetches all but the trusted). */
async function fetchChain(client: StoreClient, first: readonly [string, string[]], trusted: readonly Assertion[]): Promise<Assertion[]> {
  const known = new Set(trusted.map((a) => a.ref));
  const out: Assertion[] = [];
  const queue: Array<readonly [string, readonly string[]]> = [first];
  const asked = new Set<string>();
  while (queue.length > 0) {
    const [type, key] = queue.shift() as readonly [string, readonly string[]];
    const ref = `${type} ${key.join('/')}`;
    if (asked.has(ref) || known.has(ref)) continue;
    asked.add(ref);
    const a = await client.assertion(type, key);
    if (!a) throw new StoreClientError(`the store has no ${ref}, which the snap needs`);
    out.push(a);
    queue.push(['account-key', [a.signKeyId]]);
    if (a.is('snap-revision')) queue.push(['snap-declaration', ['16', a.view.snapId]], ['account', [a.view.developerId]]);
    if (a.is('snap-declaration')) queue.push(['account', [a.view.publisherId]]);
    if (a.is('account-key')) queue.push(['account', [a.view.accountId]]);
  }
  return out;
}

/**
 * Checks a downloaded file as snapd's assertstate does (STORE.md §4.2):
 * its snap-revision by digest and provenance with every prerequisite,
 * verified against the trusted roots; size, snap-id, revision and name
 * cross-checked; the model's store assertion fetched (not-found is fine);
 * gadget and kernel snaps published by the brand or Canonical only.
 */
export async function checkSnapFile(client: StoreClient, file: string, r: ActionResult, model: Assertion, trusted: readonly Assertion[]): Promise<Assertion[]> {
  const snap = r.snap as Record<string, unknown>;
  const hash = createHash('sha3-384');
  await pipeline(createReadStream(file), hash);
  const digest = hash.digest('base64url');
  const size = (await stat(file)).size;
  let provenance = 'global-upload';
  try {
    const yaml = parse(String(snap['snap-yaml'] ?? '')) as { provenance?: unknown } | null;
    if (typeof yaml?.provenance === 'string') provenance = yaml.provenance;
  } catch {
    // snapd ignores a snap-yaml it cannot parse
  }
  const chain = await fetchChain(client, ['snap-revision', provenance === 'global-upload' ? [digest] : [digest, provenance]], trusted);
  const m = model as Assertion & { view: { store: string; brandId: string } };
  if (m.view.store) {
    const store = await client.assertion('store', [m.view.store]);
    if (store) chain.push(...(await fetchChain(client, ['account', [store.headerString('operator-id')]], [...trusted, ...chain])), store);
  }
  const db = new TrustDatabase({ trusted: [...trusted] });
  for (const e of db.addBatch(chain)) if (e.error) throw new StoreClientError(`${e.assertion.ref} does not verify: ${e.error.message}`);
  const rev = chain.find((a) => a.is('snap-revision'));
  const decl = chain.find((a) => a.is('snap-declaration'));
  if (!rev?.is('snap-revision') || !decl?.is('snap-declaration')) throw new StoreClientError('the store gave no snap-revision or snap-declaration');
  const fail = (why: string) => new StoreClientError(`the snap does not match its assertions: ${why}`);
  if (rev.view.snapSize !== size) throw fail(`the file is ${size} bytes, the snap-revision says ${rev.view.snapSize}`);
  if (rev.view.snapId !== snap['snap-id']) throw fail(`snap-id ${String(snap['snap-id'])} in the answer, ${rev.view.snapId} in the snap-revision`);
  if (rev.view.snapRevision !== snap['revision']) throw fail(`revision ${String(snap['revision'])} in the answer, ${rev.view.snapRevision} in the snap-revision`);
  if (decl.view.snapName === '') throw fail(`snap ${String(snap['name'])} was revoked`);
  if (decl.view.snapName !== snap['name']) throw fail(`the declaration names "${decl.view.snapName}", not "${String(snap['name'])}"`);
  if (rev.view.provenance !== provenance) throw fail(`provenance "${provenance}" in snap.yaml, "${rev.view.provenance}" in the snap-revision`);
  if ((snap['type'] === 'gadget' || snap['type'] === 'kernel') && decl.view.publisherId !== 'canonical' && decl.view.publisherId !== m.view.brandId) {
    throw fail(`a ${String(snap['type'])} snap must be published by the brand or Canonical, not ${decl.view.publisherId}`);
  }
  return chain;
}

/** Downloads, checks and keeps one action result in `dir` as NAME_REV.snap with NAME_REV.assert. */
async function take(client: StoreClient, r: ActionResult, dir: string, model: Assertion, trusted: readonly Assertion[]): Promise<Installed> {
  const snap = r.snap as Record<string, unknown>;
  const download = snap['download'] as { url: string; 'sha3-384': string };
  const name = String(snap['name']);
  const revision = Number(snap['revision']);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}_${revision}.snap`);
  await client.download(download.url, download['sha3-384'], file);
  const assertions = await checkSnapFile(client, file, r, model, trusted);
  await writeFile(join(dir, `${name}_${revision}.assert`), encodeStream(assertions));
  return { name, snapId: String(snap['snap-id']), revision, channel: String(r['effective-channel'] ?? ''), file, assertions };
}

export async function installSnap(client: StoreClient, input: { name: string; channel?: string; revision?: number; dir: string; model: Assertion; trusted: readonly Assertion[] }): Promise<Installed> {
  const action = { action: 'install', 'instance-key': 'install-1', name: input.name, epoch: null, ...(input.revision ? { revision: input.revision } : { channel: input.channel ?? 'stable' }) };
  const [r] = (await client.snapAction([], [action])) as ActionResult[];
  if (!r) throw new StoreClientError('unexpectedly empty response from the server (try again later)');
  if (r['result'] === 'error') throw actionError(r, `install "${input.name}"`);
  if (r['instance-key'] !== 'install-1') throw new StoreClientError(`unexpected invalid install/refresh API result: unexpected instance-key "${String(r['instance-key'])}"`);
  return take(client, r, input.dir, input.model, input.trusted);
}

/** Refreshes what `state` holds: the ones with an update are installed, the rest reported as up to date. */
export async function refreshSnaps(client: StoreClient, state: DeviceState, input: { dir: string; model: Assertion; trusted: readonly Assertion[]; names?: readonly string[] }): Promise<{ updated: Installed[]; current: string[] }> {
  const names = (input.names?.length ? input.names : Object.keys(state.snaps)).filter((n) => state.snaps[n]);
  const context = names.map((n) => {
    const s = state.snaps[n] as DeviceState['snaps'][string];
    return { 'snap-id': s.snapId, 'instance-key': s.snapId, revision: s.revision, 'tracking-channel': s.channel || 'latest/stable', epoch: { read: [0], write: [0] }, 'refreshed-date': new Date().toISOString() };
  });
  const actions = names.map((n) => ({ action: 'refresh', 'instance-key': state.snaps[n]?.snapId, 'snap-id': state.snaps[n]?.snapId }));
  const results = names.length > 0 ? ((await client.snapAction(context, actions)) as ActionResult[]) : [];
  const updated: Installed[] = [];
  for (const r of results) {
    if (r['result'] === 'error') throw actionError(r, `refresh "${String(r['name'] ?? r['snap-id'])}"`);
    const name = names.find((n) => state.snaps[n]?.snapId === r['instance-key']);
    if (!name) throw new StoreClientError('unexpected invalid install/refresh API result: unexpected refresh');
    if (Number(r.snap?.['revision']) === state.snaps[name]?.revision) continue;
    updated.push(await take(client, r, input.dir, input.model, input.trusted));
  }
  return { updated, current: names.filter((n) => !updated.some((u) => u.name === n)) };
}
