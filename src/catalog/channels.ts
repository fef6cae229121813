import { CatalogError } from './errors.js';

export const RISKS = ['stable', 'candidate', 'beta', 'edge'] as const;
export type Risk = (typeof RISKS)[number];

export interface Channel {
  readonly track: string;
  readonly risk: Risk;
  readonly branch: string | null;
  /** The full form, `track/risk[/branch]`, as the channel map stores it. */
  readonly name: string;
}

const PART = /^[a-zA-Z0-9](?:[a-zA-Z0-9._-]{0,62})$/;
const isRisk = (v: string): v is Risk => (RISKS as readonly string[]).includes(v);

/**
 * A channel as snapd and snapcraft write it: `risk`, `track/risk`,
 * `risk/branch` or `track/risk/branch`; the track defaults to `latest`
 * (so `stable` is `latest/stable`).
 */
export function parseChannel(text: string): Channel {
  const parts = text.split('/');
  const bad = (why: string) => new CatalogError('ERR_CHANNEL_INVALID', `channel "${text}": ${why} (write track/risk[/branch], risk one of ${RISKS.join(', ')})`);
  if (parts.length > 3 || parts.some((p) => p === '')) throw bad('not a channel');
  let track = 'latest';
  let risk: string;
  let branch: string | null = null;
  if (parts.length === 1) risk = parts[0] as string;
  else if (parts.length === 3) [track, risk, branch] = parts as [string, string, string];
  else if (isRisk(parts[0] as string)) [risk, branch] = parts as [string, string];
  else [track, risk] = parts as [string, string];
  if (!isRisk(risk)) throw bad(`unknown risk "${risk}"`);
  if (!PART.test(track)) throw bad(`invalid track "${track}"`);
  if (branch !== null && !PART.test(branch)) throw bad(`invalid branch "${branch}"`);
  return { track, risk, branch, name: branch === null ? `${track}/${risk}` : `${track}/${risk}/${branch}` };
}

/**
 * The channels a request for `channel` is answered from, in order: a risk
 * with nothing released follows the next more stable one in its track
 * (edge → beta → candidate → stable); a branch follows nothing.
 */
export function fallbackChain(channel: Channel): string[] {
  if (channel.branch !== null) return [channel.name];
  return RISKS.slice(0, RISKS.indexOf(channel.risk) + 1)
    .reverse()
    .map((r) => `${channel.track}/${r}`);
}
