import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { openVault, type Vault } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging.js';
import { freePort, waitUntilOk } from '../support/net.js';
import { buildSnap } from '../support/snaps.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

const bin = resolve('dist/src/cli/main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withVault<T>(dir: string, fn: (v: Vault) => Promise<T>): Promise<T> {
  const v = await openVault(await loadConfig(dir), { logger: createLogger({ log: { level: 'silent' } } as never) });
  try {
    return await fn(v);
  } finally {
    await v.close();
  }
}

/** A folder's entries; none when it does not exist yet (a kill before the first upload). */
const list = (path: string): string[] => (existsSync(path) ? readdirSync(path) : []);

/** Every file in the blob store is whole: its name is the SHA3-384 of its bytes. Returns the digests held. */
function wholeBlobs(dir: string): string[] {
  const root = join(dir, 'blobs');
  const held: string[] = [];
  for (const sub of list(root)) {
    if (sub === 'tmp') continue;
    for (const f of readdirSync(join(root, sub))) {
      const hex = createHash('sha3-384').update(readFileSync(join(root, sub, f))).digest('hex');
      expect(`${hex}.snap`, `blob ${f} is not whole`).toBe(f);
      held.push(Buffer.from(hex, 'hex').toString('base64url'));
    }
  }
  return held;
}

/**
 * kill -9 while uploads stream in and pushes turn them into revisions: after
 * each restart, every revision row has its whole, digest-checked blob, no
 * half-written file is in the store, and what the upload left in the
 * temporary folder is swept.
 */
describe('uploads killed mid-way (SIGKILL)', () => {
  let dir: string;
  let adminPort: number;
  let token: string;
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn(process.execPath, [bin, 'serve', '--data-dir', dir], { stdio: 'ignore' });
    expect(await waitUntilOk(`http://127.0.0.1:${adminPort}/health/ready`)).toBe(true);
  };
  const kill = async () => {
    const s = server!;
    const gone = new Promise((r) => s.once('exit', r));
    s.kill('SIGKILL');
    await gone;
    server = undefined;
  };

  beforeAll(async () => {
    dir = testDataDir();
    adminPort = await freePort();
    const init = spawnSync(process.execPath, [bin, 'init', '--data-dir', dir, '--demo', '--port', String(await freePort()), '--admin-port', String(adminPort), '--store-port', '0'], { encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    token = await withVault(dir, async (v) => {
      await v.accounts.addPerson(OPERATOR, 'line@crash.test', 'Line');
      await v.accounts.grant(OPERATOR, 'demo-brand', 'line@crash.test', 'publisher');
      await v.snaps.register(OPERATOR, { name: 'crash-app', storeId: 'demo-brand' });
      await v.snaps.setCollaborators(OPERATOR, 'demo-brand', 'crash-app', ['line@crash.test']);
      return (await v.accounts.createToken(OPERATOR, { name: 'crash', days: 1, forEmail: 'line@crash.test' })).secret;
    });
  }, 120_000);

  afterAll(async () => {
    if (server) await kill();
    removeDataDir(dir);
  });

  it('leaves no revision without its whole blob and no half-written blob, whenever the kill comes', async () => {
    const files = Array.from({ length: 6 }, (_, i) => buildSnap(dir, { name: 'crash-app', version: `1.${i}`, architectures: ['amd64'] }, randomBytes(3 * 1024 * 1024)));
    const api = `http://127.0.0.1:${adminPort}/api/v1/`;
    const headers = { authorization: `Bearer ${token}` };
    let leftovers = 0;
    for (const [i, file] of files.entries()) {
      await start();
      const bytes = readFileSync(file);
      // Half the file, then a pause: the kill lands while the body streams in (odd rounds), or between upload and push (even ones).
      const body = new ReadableStream({
        async start(c) {
          c.enqueue(bytes.subarray(0, bytes.length >> 1));
          if (i % 2 === 1) await sleep(10_000);
          c.enqueue(bytes.subarray(bytes.length >> 1));
          c.close();
        },
      });
      const work = (async () => {
        const up = await fetch(`${api}uploads`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body, duplex: 'half' } as RequestInit);
        const { upload_id } = (await up.json()) as { upload_id: string };
        await fetch(`${api}stores/demo-brand/snaps/crash-app/revisions`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ 'upload-id': upload_id }) });
      })().catch(() => undefined);
      if (i % 2 === 1) {
        // Mid-stream for sure: the half-written file is there when the kill comes.
        for (let t = 0; t < 100 && list(join(dir, 'blobs', 'tmp')).length === 0; t++) await sleep(50);
      } else {
        await sleep(40 + i * 30);
      }
      await kill();
      await work;
      if (i % 2 === 1) leftovers += list(join(dir, 'blobs', 'tmp')).length;
      // Opening the vault again sweeps what the upload left, then the rows are checked against the store.
      await withVault(dir, async (v) => {
        const rows = (await v.db('snap_revisions').select('sha3_384', 'size')) as Array<{ sha3_384: string; size: number }>;
        const held = wholeBlobs(dir);
        for (const r of rows) {
          expect(held, `revision ${r.sha3_384} has no blob`).toContain(r.sha3_384);
          expect(statSync(v.snaps.blobs.pathOf(r.sha3_384)).size).toBe(Number(r.size));
        }
      });
      expect(list(join(dir, 'blobs', 'tmp'))).toEqual([]);
    }
    // The kills did land mid-stream: there were half-written files to sweep.
    expect(leftovers).toBeGreaterThan(0);
    // And the vault still takes the same files after all that, each once.
    await withVault(dir, async (v) => {
      for (const file of files) await v.snaps.push(OPERATOR, 'demo-brand', 'crash-app', (await v.snaps.upload(OPERATOR, createReadStream(file))).uploadId);
      const revisions = (await v.db('snap_revisions').orderBy('revision').select('revision', 'sha3_384')) as Array<{ revision: number; sha3_384: string }>;
      expect(revisions.map((r) => r.revision)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(new Set(revisions.map((r) => r.sha3_384)).size).toBe(6);
    });
  }, 240_000);
});
