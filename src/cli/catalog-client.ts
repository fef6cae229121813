import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { OPERATOR } from '../accounts/principal.js';
import { encodeStream } from '../assertions/index.js';
import type { SnapService } from '../catalog/snap-service.js';
import { readBundle } from '../catalog/bundle-import.js';
import type { SnapType } from '../catalog/snap-yaml.js';
import { revisionOut, snapOut } from '../http/admin/routes/snaps.js';
import { AdminApiError } from './admin-client.js';
import { CliError } from './io.js';

/** Shapes as the admin API returns them (JSON), so both ways print alike. */
export interface SnapOut {
  name: string;
  snapId: string;
  store: string;
  type: SnapType;
  private: boolean;
  publisher: string;
  collaborators: string[];
}
export interface RevisionOut {
  revision: number;
  version: string;
  architectures: string[];
  grade: string;
  status: 'needs-review' | 'approved' | 'rejected';
  sha3_384: string;
  size: number;
  uploadedBy: string;
  reviewReason: string | null;
}
export interface StatusOut {
  snap: SnapOut;
  'channel-map': Array<{ channel: string; architecture: string; revision: number }>;
  revisions: RevisionOut[];
}
export interface DownloadOut {
  name: string;
  revision: number;
  sha3_384: string;
  size: number;
  assertions: string;
}

/** What the snap commands do, on a local data directory (as the operator) or over the admin API. */
export interface CatalogOps {
  register(store: string, name: string, type?: SnapType, isPrivate?: boolean): Promise<SnapOut>;
  setCollaborators(store: string, name: string, emails: string[]): Promise<SnapOut>;
  /** Uploads and pushes a file; `progress` hears the bytes sent so far. */
  upload(store: string, name: string, file: string, progress: (sent: number, total: number) => void): Promise<{ revision: number; status: string }>;
  status(store: string, name: string): Promise<StatusOut>;
  review(store: string, name: string, revision: number, verdict: { approve: true } | { approve: false; reason: string }): Promise<RevisionOut>;
  release(store: string, name: string, releases: Array<{ revision: number | null; channel: string }>): Promise<StatusOut>;
  curate(store: string, name: string, mode: 'include' | 'exclude' | null): Promise<void>;
  pin(store: string, name: string, channel: string, revision: number | null): Promise<void>;
  setReviewPolicy(store: string, required: boolean): Promise<void>;
  /** Imports a bundle (folder or tarball of NAME_REV.snap + NAME_REV.assert); `each` hears every revision imported. */
  importBundle(store: string, path: string, each: (line: string) => void): Promise<number>;
  download(store: string, name: string, pick: { channel?: string; revision?: number; arch: string }): Promise<{ info: DownloadOut; file: () => Promise<Readable> }>;
}

const json = <T>(v: unknown): T => JSON.parse(JSON.stringify(v)) as T;

/** Counts bytes as they pass, for a progress bar. */
function metered(source: Readable, total: number, progress: (sent: number, total: number) => void): Readable {
  let sent = 0;
  return source.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        progress(sent, total);
        done(null, chunk);
      },
    }),
  );
}

export function localCatalogOps(snaps: SnapService): CatalogOps {
  const status = async (store: string, name: string) => {
    const s = await snaps.status(OPERATOR, store, name);
    return json<StatusOut>({ snap: snapOut(s.snap), 'channel-map': s.heads.map((h) => ({ channel: h.channel, architecture: h.architecture, revision: h.revision })), revisions: s.revisions.map(revisionOut) });
  };
  return {
    register: async (store, name, type, isPrivate) => json(snapOut(await snaps.register(OPERATOR, { name, storeId: store, ...(type ? { type } : {}), ...(isPrivate !== undefined ? { private: isPrivate } : {}) }))),
    setCollaborators: async (store, name, emails) => json(snapOut(await snaps.setCollaborators(OPERATOR, store, name, emails))),
    upload: async (store, name, file, progress) => {
      const { size } = await stat(file);
      const up = await snaps.upload(OPERATOR, metered(createReadStream(file), size, progress));
      const r = await snaps.push(OPERATOR, store, name, up.uploadId);
      return { revision: r.revision, status: r.status };
    },
    status,
    review: async (store, name, revision, verdict) => json(revisionOut(await snaps.review(OPERATOR, store, name, revision, verdict))),
    release: async (store, name, releases) => {
      await snaps.release(OPERATOR, store, name, releases);
      return status(store, name);
    },
    curate: (store, name, mode) => snaps.curate(OPERATOR, store, name, mode),
    pin: (store, name, channel, revision) => snaps.pin(OPERATOR, store, name, channel, revision),
    setReviewPolicy: (store, required) => snaps.setReviewPolicy(OPERATOR, store, required),
    importBundle: async (store, path, each) => {
      const { entries, cleanup } = await readBundle(path);
      try {
        for (const [i, entry] of entries.entries()) {
          const r = await snaps.importRevision(OPERATOR, store, entry);
          each(`[${i + 1}/${entries.length}] ${entry.declaration.headerString('snap-name')} revision ${r.revision} (${r.version})`);
        }
        return entries.length;
      } finally {
        await cleanup();
      }
    },
    download: async (store, name, pick) => {
      const d = await snaps.download(store, name, { ...(pick.channel ? { channel: pick.channel } : {}), ...(pick.revision ? { revision: pick.revision } : {}), architecture: pick.arch });
      return {
        info: { name: d.snap.name, revision: d.revision.revision, sha3_384: d.revision.sha3_384, size: d.revision.size, assertions: encodeStream(d.assertions).toString('utf8') },
        file: async () => d.file(),
      };
    },
  };
}

export function remoteCatalogOps(baseUrl: string, token: string, http: typeof fetch = fetch): CatalogOps {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const send = async (method: string, path: string, init: { body?: RequestInit['body']; type?: string; duplex?: boolean } = {}): Promise<Response> => {
    let res: Response;
    try {
      res = await http(new URL(path, base), {
        method,
        headers: { authorization: `Bearer ${token}`, ...(init.type ? { 'content-type': init.type } : {}) },
        ...(init.body !== undefined ? { body: init.body } : {}),
        ...(init.duplex ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (e) {
      throw new CliError(`cannot reach ${base}: ${(e as Error).message}`, 3);
    }
    if (!res.ok) {
      const data = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      throw new AdminApiError(res.status, String(data['code'] ?? 'ERR_INTERNAL'), String(data['message'] ?? `${base} answered ${res.status}`));
    }
    return res;
  };
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await send(method, path, body !== undefined ? { body: JSON.stringify(body), type: 'application/json' } : {});
    return (res.status === 204 ? undefined : await res.json()) as T;
  };
  const e = encodeURIComponent;
  const snapPath = (store: string, name: string) => `api/v1/stores/${e(store)}/snaps/${e(name)}`;
  return {
    register: (store, name, type, isPrivate) => request('POST', `api/v1/stores/${e(store)}/snaps`, { name, ...(type ? { type } : {}), ...(isPrivate !== undefined ? { private: isPrivate } : {}) }),
    setCollaborators: (store, name, emails) => request('PUT', `${snapPath(store, name)}/collaborators`, { collaborators: emails }),
    upload: async (store, name, file, progress) => {
      const { size } = await stat(file);
      const body = Readable.toWeb(metered(createReadStream(file), size, progress)) as unknown as RequestInit['body'];
      const up = (await (await send('POST', 'api/v1/uploads', { body, type: 'application/octet-stream', duplex: true })).json()) as { upload_id: string };
      const pushed = await request<{ revisions: Array<{ revision: number; status: string }> }>('POST', `${snapPath(store, name)}/revisions`, { 'upload-id': up.upload_id });
      return pushed.revisions[0]!;
    },
    status: (store, name) => request('GET', snapPath(store, name)),
    review: (store, name, revision, verdict) => request('POST', `${snapPath(store, name)}/revisions/${revision}/review`, verdict),
    release: (store, name, releases) => request('POST', `${snapPath(store, name)}/releases`, releases),
    curate: (store, name, mode) => request('PUT', `api/v1/stores/${e(store)}/curation/${e(name)}`, { mode }),
    pin: (store, name, channel, revision) => request('PUT', `api/v1/stores/${e(store)}/pins/${e(name)}`, { channel, revision }),
    setReviewPolicy: async (store, required) => void (await request('PUT', `api/v1/stores/${e(store)}/review-policy`, { reviewRequired: required })),
    importBundle: () => Promise.reject(new CliError('snap import runs on the appliance, on its data directory: drop --url')),
    download: async (store, name, pick) => {
      const q = new URLSearchParams({ arch: pick.arch, ...(pick.channel ? { channel: pick.channel } : {}), ...(pick.revision ? { revision: String(pick.revision) } : {}) });
      const info = await request<DownloadOut & { file: string }>('GET', `${snapPath(store, name)}/download?${q.toString()}`);
      return {
        info,
        file: async () => {
          const res = await send('GET', info.file.replace(/^\//, ''));
          return Readable.fromWeb(res.body as never);
        },
      };
    },
  };
}
