import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { BlobStore } from '../../catalog/blobs.js';
import type { Database } from '../../db/database.js';
import { SyncError } from '../../sync/errors.js';
import type { ChangeFeed } from '../../sync/feed.js';
import { snapshot } from '../../sync/snapshot.js';
import type { ApplianceContext } from '../../sync/upstream.js';
import { HttpError } from '../errors.js';
import { sendSyncJson, type SyncRoute } from '../sync-app.js';

const who = (appliance: ApplianceContext | null): ApplianceContext => appliance!;

/** A query number: absent gives the default, anything but a whole number is refused by name. */
function whole(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value) || !Number.isSafeInteger(n)) throw new SyncError('ERR_SYNC_BATCH_INVALID', `${name} must be a whole number, got "${String(value).slice(0, 40)}"`);
  return Math.min(n, max);
}

/**
 * What an appliance pulls: the snapshot it starts from, the change feed it
 * then follows by long-poll, and the .snap files of its store on demand.
 */
export function feedRoutes(parts: {
  db: Database;
  feed: ChangeFeed;
  blobs: BlobStore;
  maxWaitSeconds: number;
  /** Re-read after a long-poll's wait: the appliance may have been disabled meanwhile. */
  ensureActive: (appliance: ApplianceContext) => Promise<void>;
}): SyncRoute[] {
  return [
    {
      name: 'snapshot',
      method: 'GET',
      path: /^snapshot$/,
      authenticated: true,
      handle: async (ctx, appliance) => {
        const lines = snapshot(parts.db, who(appliance));
        // The first line is read before answering: a snapshot that cannot start is an error status, not a cut stream.
        const first = await lines.next();
        ctx.status = 200;
        ctx.set('Content-Type', 'application/x-ndjson');
        ctx.body = Readable.from(
          (async function* () {
            if (!first.done) yield `${JSON.stringify(first.value)}\n`;
            for await (const line of lines) yield `${JSON.stringify(line)}\n`;
          })(),
        );
      },
    },
    {
      name: 'changes',
      method: 'GET',
      path: /^changes$/,
      authenticated: true,
      handle: async (ctx, appliance) => {
        const after = whole(ctx.query['after'], 'after', Number.NaN, Number.MAX_SAFE_INTEGER);
        if (Number.isNaN(after)) throw new SyncError('ERR_SYNC_BATCH_INVALID', 'after is required: the sequence of the last change the appliance applied');
        const wait = whole(ctx.query['wait'], 'wait', 0, parts.maxWaitSeconds);
        const limit = whole(ctx.query['limit'], 'limit', 2000, 10_000);
        const gone = new AbortController();
        ctx.req.on('close', () => gone.abort());
        await parts.feed.seen(who(appliance), after, await parts.feed.head());
        const page = await parts.feed.wait(who(appliance), after, wait * 1000, limit, gone.signal);
        if (wait > 0) await parts.ensureActive(who(appliance));
        sendSyncJson(ctx, 200, page);
      },
    },
    {
      name: 'blob',
      method: 'GET',
      path: /^blobs\/([A-Za-z0-9_-]{64})$/,
      authenticated: true,
      handle: async (ctx, appliance, [digest]) => {
        // Only a revision of a snap the appliance's stores offer.
        const scope = await parts.feed.scope(who(appliance));
        if (!scope.revisionDigests.has(digest!)) throw new HttpError('ERR_NOT_FOUND', 'no such snap file for this appliance');
        const path = parts.blobs.pathOf(digest!);
        const info = await stat(path).catch(() => undefined);
        if (!info) throw new HttpError('ERR_NOT_FOUND', 'no such snap file for this appliance');
        ctx.status = 200;
        ctx.set('Content-Type', 'application/octet-stream');
        ctx.length = info.size;
        ctx.body = createReadStream(path);
      },
    },
  ];
}
