import { parseChannel } from '../catalog/channels.js';
import type { OfferReads, View } from '../catalog/offer-reads.js';
import type { RevisionRecord, SnapRecord } from '../catalog/snaps.js';

export interface ChannelMapEntry {
  readonly revision: RevisionRecord;
  readonly channel: { architecture: string; name: string; track: string; risk: string; 'released-at': string };
}

/** The channel as the snap store names it: `stable` on the default track, `track/risk[/branch]` otherwise. */
const shortName = (name: string) => (name.startsWith('latest/') ? name.slice('latest/'.length) : name);

/**
 * The channel map of `snap info` for one architecture: every channel with
 * something released for it, each with the revision this view offers there
 * exactly (its pins applied, no risk fallback), stable first. snapd keys
 * entries by track/risk, so a branch shows only as its own entry name.
 */
export async function channelMap(reads: OfferReads, view: View, snap: SnapRecord, architecture: string): Promise<ChannelMapEntry[]> {
  const heads = (await reads.heads([snap.pk])).filter((h) => h.architecture === architecture || h.architecture === 'all');
  const channels = [...new Set(heads.map((h) => h.channel))];
  // When each channel's current release was made.
  const releasedAt = new Map<string, string>();
  for (const e of channels.length > 0 ? await reads.history(snap.pk) : []) if (e.revision !== null) releasedAt.set(`${e.channel}\0${e.architecture}`, e.releasedAt);
  const out: ChannelMapEntry[] = [];
  for (const name of channels) {
    const channel = parseChannel(name);
    // snapd keys channel-map entries by track/risk: a branch would replace its parent channel there.
    if (channel.branch !== null) continue;
    const offered = (await reads.offer(view, [snap.name], channel, architecture)).get(snap.name);
    if (!offered || offered.channel !== name) continue;
    const arch = offered.revision.architectures.includes(architecture) ? architecture : 'all';
    out.push({
      revision: offered.revision,
      channel: { architecture: arch, name: shortName(name), track: channel.track, risk: channel.risk, 'released-at': releasedAt.get(`${name}\0${arch}`) ?? offered.revision.createdAt },
    });
  }
  const rank = (e: ChannelMapEntry) => ['stable', 'candidate', 'beta', 'edge'].indexOf(e.channel.risk);
  return out.sort((a, b) => (a.channel.track === b.channel.track ? rank(a) - rank(b) : a.channel.track === 'latest' ? -1 : b.channel.track === 'latest' ? 1 : a.channel.track.localeCompare(b.channel.track)));
}

/** A `snap find` result: the snap, and the revision the searched channel offers (snapd overlays the second on the first). */
export function searchResult(json: Record<string, unknown>, snap: SnapRecord, channel: string): Record<string, unknown> {
  return { name: snap.name, 'snap-id': snap.snapId, snap: json, revision: { ...json, channel: shortName(channel) } };
}

