import { z } from 'zod';
import { encodeStream } from '../../../assertions/index.js';
import type { SnapService } from '../../../catalog/snap-service.js';
import type { RevisionRecord, SnapRecord } from '../../../catalog/snaps.js';
import * as C from '../catalog-schemas.js';
import { route, type AdminRoute } from '../route.js';
import { StoreParam } from './common.js';

const SnapParam = StoreParam.extend({ name: z.string().min(1).max(40) });
const RevisionParam = SnapParam.extend({ revision: z.coerce.number().int().positive() });

export const snapOut = (s: SnapRecord) => ({ ...s, store: s.storeId });
export const revisionOut = (r: RevisionRecord) => r;
const statusUrl = (store: string, name: string, upload: string) => `/api/v1/stores/${store}/snaps/${name}/uploads/${upload}`;

/** A store's snaps: names, uploads and revisions, review, releases and downloads (snapcraft's on-prem shapes, STORE.md §5). */
export function snapsRoutes(snaps: SnapService): AdminRoute[] {
  const status = (s: Awaited<ReturnType<SnapService['status']>>) => ({
    snap: snapOut(s.snap),
    'channel-map': s.heads.map((h) => ({ channel: h.channel, architecture: h.architecture, revision: h.revision })),
    revisions: s.revisions.map(revisionOut),
  });
  return [
    route({
      method: 'get',
      path: '/api/v1/stores/:store/snaps',
      action: 'snap.list',
      summary: "The snaps in the store's offer: its own, those inherited from the stores above a product store, and those included; not those excluded",
      params: StoreParam,
      target: ({ params }) => params.store,
      response: z.object({ items: z.array(C.Snap) }),
      handle: async ({ params }) => ({ items: (await snaps.visible(params.store)).map(snapOut) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/stores/:store/snaps',
      action: 'snap.register',
      summary: 'Register a snap name in the store (gadget and kernel snaps: the brand store only)',
      params: StoreParam,
      body: z.strictObject({ name: z.string().min(1).max(40), type: C.SnapType.optional(), private: z.boolean().optional() }),
      target: ({ params }) => params.store,
      status: 201,
      response: C.Snap,
      handle: async ({ principal, params, body }) =>
        snapOut(await snaps.register(principal, { name: body.name, storeId: params.store, ...(body.type ? { type: body.type } : {}), ...(body.private !== undefined ? { private: body.private } : {}) })),
    }),
    route({
      method: 'get',
      path: '/api/v1/stores/:store/snaps/:name',
      action: 'snap.read',
      summary: 'A snap, its channel map and its revisions',
      params: SnapParam,
      target: ({ params }) => params.store,
      response: C.SnapStatus,
      handle: async ({ principal, params }) => status(await snaps.status(principal, params.store, params.name)),
    }),
    route({
      method: 'put',
      path: '/api/v1/stores/:store/snaps/:name/collaborators',
      action: 'snap.collaborators',
      summary: "Set the snap's collaborators (emails of people who may upload and release it)",
      params: SnapParam,
      body: z.strictObject({ collaborators: z.array(z.email()).max(100) }),
      target: ({ params }) => params.store,
      response: C.Snap,
      handle: async ({ principal, params, body }) => snapOut(await snaps.setCollaborators(principal, params.store, params.name, body.collaborators)),
    }),
    route({
      method: 'post',
      path: '/api/v1/uploads',
      action: 'snap.upload',
      summary: 'Upload a .snap (the request body, application/octet-stream), streamed to the blob store; answers the upload id to push',
      streamsBody: 'application/octet-stream',
      status: 201,
      response: C.Upload,
      handle: async ({ principal, source }) => {
        const up = await snaps.upload(principal, source!);
        return { successful: true, upload_id: up.uploadId, sha3_384: up.sha3_384, size: up.size };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/stores/:store/snaps/:name/revisions',
      action: 'snap.push',
      summary: 'Make an upload a revision of the snap (snap.yaml checked against the registration); the same file again answers its existing revision',
      params: SnapParam,
      body: z.strictObject({ 'upload-id': z.string().min(1).max(64) }),
      target: ({ params }) => params.store,
      status: 201,
      response: C.PushStatus,
      handle: async ({ principal, params, body }) => {
        const r = await snaps.push(principal, params.store, params.name, body['upload-id']);
        return { 'status-url': statusUrl(params.store, params.name, body['upload-id']), revisions: [{ status: r.status, revision: r.revision, errors: [] }] };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/stores/:store/snaps/:name/uploads/:upload',
      action: 'snap.read',
      operationId: 'snapPushStatus',
      summary: 'The status of a pushed upload, as snapcraft polls it',
      params: SnapParam.extend({ upload: z.string().min(1).max(64) }),
      target: ({ params }) => params.store,
      response: C.PushStatus,
      handle: async ({ principal, params }) => {
        const r = await snaps.pushStatus(principal, params.store, params.name, params.upload);
        const errors = r.status === 'rejected' ? [{ code: 'rejected', message: r.reviewReason ?? 'rejected by a reviewer' }] : [];
        return { 'status-url': statusUrl(params.store, params.name, params.upload), revisions: [{ status: r.status, revision: r.revision, errors }] };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/stores/:store/snaps/:name/revisions/:revision/review',
      action: 'snap.review',
      summary: 'Approve or reject a revision that needs review (not one you uploaded)',
      params: RevisionParam,
      body: z.union([z.strictObject({ approve: z.literal(true) }), z.strictObject({ approve: z.literal(false), reason: z.string().trim().min(1).max(1000) })]),
      target: ({ params }) => params.store,
      response: C.Revision,
      handle: async ({ principal, params, body }) => revisionOut(await snaps.review(principal, params.store, params.name, params.revision, body)),
    }),
    route({
      method: 'post',
      path: '/api/v1/stores/:store/snaps/:name/releases',
      action: 'snap.release',
      summary: 'Release revisions to channels, all or none; "revision": null closes the channel',
      params: SnapParam,
      body: z.array(z.strictObject({ revision: z.number().int().positive().nullable(), channel: z.string().min(1).max(128) })).min(1).max(100),
      target: ({ params }) => params.store,
      response: C.SnapStatus,
      handle: async ({ principal, params, body }) => status(await snaps.release(principal, params.store, params.name, body)),
    }),
    route({
      method: 'get',
      path: '/api/v1/stores/:store/snaps/:name/releases',
      action: 'snap.read',
      operationId: 'snapReleaseHistory',
      summary: 'Every release and close of the snap, oldest first: who, what, when',
      params: SnapParam,
      target: ({ params }) => params.store,
      response: z.object({ items: z.array(C.ReleaseEvent) }),
      handle: async ({ principal, params }) => ({ items: (await snaps.status(principal, params.store, params.name)).history }),
    }),
    route({
      method: 'get',
      path: '/api/v1/stores/:store/snaps/:name/download',
      action: 'snap.download',
      summary: 'What the store offers of the snap on a channel (or a revision) for an architecture, with its assertions',
      params: SnapParam,
      query: z.object({ channel: z.string().max(128).optional(), revision: z.coerce.number().int().positive().optional(), arch: z.string().max(32).optional() }),
      target: ({ params }) => params.store,
      response: C.Download,
      handle: async ({ params, query }) => {
        const d = await snaps.download(params.store, params.name, { ...(query.channel ? { channel: query.channel } : {}), ...(query.revision ? { revision: query.revision } : {}), architecture: query.arch ?? 'amd64' });
        return { name: d.snap.name, revision: d.revision.revision, sha3_384: d.revision.sha3_384, size: d.revision.size, assertions: encodeStream(d.assertions).toString('utf8'), file: `/api/v1/stores/${params.store}/snaps/${params.name}/revisions/${d.revision.revision}/file` };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/stores/:store/snaps/:name/revisions/:revision/file',
      action: 'snap.download',
      operationId: 'snapDownloadFile',
      summary: 'The .snap file of an approved revision the store offers',
      params: RevisionParam,
      target: ({ params }) => params.store,
      answersFile: 'application/octet-stream',
      handle: async ({ params }) => {
        const d = await snaps.download(params.store, params.name, { revision: params.revision, architecture: 'all' });
        return { body: d.file(), type: 'application/octet-stream', length: d.revision.size, filename: `${d.snap.name}_${d.revision.revision}.snap` };
      },
    }),
  ];
}
