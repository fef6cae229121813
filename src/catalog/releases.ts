import type { Database } from '../db/database.js';
import { parseChannel } from './channels.js';
import { ChannelMap } from './channel-map.js';
import { CatalogError } from './errors.js';
import { SnapRepository, type SnapRecord } from './snaps.js';

/** One entry of a release call, as snapcraft's on-prem client sends it: `revision: null` closes the channel. */
export interface ReleaseRequest {
  readonly revision: number | null;
  readonly channel: string;
}

const NOT_FOR_DEVEL = new Set(['stable', 'candidate']);

/**
 * Applies every request in order inside the caller's transaction; one
 * refusal (unknown risk, unapproved revision, devel grade on stable) undoes
 * them all. Returns what was done, for the audit record.
 */
export async function releaseAll(trx: Database, snap: SnapRecord, requests: readonly ReleaseRequest[], by: string): Promise<Array<{ channel: string; revision: number | null; architectures: string[] }>> {
  const map = new ChannelMap(trx);
  const revisions = new SnapRepository(trx);
  const done: Array<{ channel: string; revision: number | null; architectures: string[] }> = [];
  for (const r of requests) {
    const channel = parseChannel(r.channel);
    if (r.revision === null) {
      done.push({ channel: channel.name, revision: null, architectures: await map.close(snap.pk, channel.name, by) });
      continue;
    }
    const rev = await revisions.requireRevision(snap, r.revision);
    if (rev.status !== 'approved') {
      throw new CatalogError('ERR_REVISION_NOT_APPROVED', `revision ${r.revision} of "${snap.name}" is ${rev.status}${rev.reviewReason ? ` (${rev.reviewReason})` : ''}: only approved revisions can be released`);
    }
    if (rev.grade === 'devel' && NOT_FOR_DEVEL.has(channel.risk)) {
      throw new CatalogError('ERR_CHANNEL_GRADE', `revision ${r.revision} of "${snap.name}" has grade devel: release it to beta or edge, not ${channel.name}`);
    }
    await map.release(snap.pk, channel.name, rev.architectures, rev.revision, by);
    done.push({ channel: channel.name, revision: rev.revision, architectures: [...rev.architectures] });
  }
  return done;
}
