import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';

export interface ChannelHead {
  readonly snapPk: number;
  readonly channel: string;
  readonly architecture: string;
  readonly revision: number;
}

export interface ReleaseEvent {
  readonly channel: string;
  readonly architecture: string;
  /** null: the channel was closed. */
  readonly revision: number | null;
  readonly releasedBy: string;
  readonly releasedAt: string;
}

/**
 * The channel map: every release and close ever made (the history), and
 * the current head of each channel and architecture, written together.
 */
export class ChannelMap {
  constructor(private readonly db: Database) {}

  async release(snapPk: number, channel: string, architectures: readonly string[], revision: number, by: string): Promise<void> {
    const at = nowIso();
    for (const architecture of architectures) {
      await this.db('channel_releases').insert({ snap: snapPk, channel, architecture, revision, released_by: by, released_at: at });
      await this.db('channel_heads').insert({ snap: snapPk, channel, architecture, revision }).onConflict(['snap', 'channel', 'architecture']).merge(['revision']);
    }
  }

  /** Closes `channel` for every architecture released there; returns the architectures closed. */
  async close(snapPk: number, channel: string, by: string): Promise<string[]> {
    const heads = await this.db('channel_heads').where({ snap: snapPk, channel }).select('architecture');
    const at = nowIso();
    for (const h of heads) {
      await this.db('channel_releases').insert({ snap: snapPk, channel, architecture: h.architecture, revision: null, released_by: by, released_at: at });
    }
    await this.db('channel_heads').where({ snap: snapPk, channel }).delete();
    return heads.map((h) => String(h.architecture));
  }

  async heads(snapPks: readonly number[]): Promise<ChannelHead[]> {
    if (snapPks.length === 0) return [];
    const rows = await this.db('channel_heads').whereIn('snap', [...snapPks]).orderBy(['snap', 'channel', 'architecture']);
    return rows.map((r) => ({ snapPk: Number(r.snap), channel: String(r.channel), architecture: String(r.architecture), revision: Number(r.revision) }));
  }

  async history(snapPk: number): Promise<ReleaseEvent[]> {
    const rows = await this.db('channel_releases').where({ snap: snapPk }).orderBy('id');
    return rows.map((r) => ({
      channel: String(r.channel),
      architecture: String(r.architecture),
      revision: r.revision === null ? null : Number(r.revision),
      releasedBy: String(r.released_by),
      releasedAt: String(r.released_at),
    }));
  }
}
