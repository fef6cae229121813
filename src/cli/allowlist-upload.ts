import { Readable, Transform } from 'node:stream';
import type { AllowListFormat, ImportProgress } from '../provisioning/allowlists.js';
import { AdminApiError } from './admin-client.js';
import { CliError } from './io.js';

/** What the admin API takes for each format: JSON Lines go as NDJSON. */
const MEDIA: Record<AllowListFormat | 'jsonl', string> = { csv: 'text/csv', json: 'application/json', jsonl: 'application/x-ndjson' };

/**
 * An allow-list file streamed to a vault's admin API, as the CLI's
 * `--url`: the file never sits whole in memory here either, and the bytes
 * sent are the progress. The vault applies all of it or, on a bad line,
 * none, and answers with the counts.
 */
export async function uploadAllowList(
  o: { url: string; token: string; brand: string; station: string; format: AllowListFormat; jsonLines: boolean },
  file: Readable,
  onProgress: (p: ImportProgress) => void,
): Promise<{ read: number; added: number; unchanged: number }> {
  let bytes = 0;
  const counted = file.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        onProgress({ lines: 0, bytes });
        done(null, chunk);
      },
    }),
  );
  const base = o.url.endsWith('/') ? o.url : `${o.url}/`;
  const path = `api/v1/brands/${encodeURIComponent(o.brand)}/stations/${encodeURIComponent(o.station)}/allowlist`;
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method: 'POST',
      headers: { authorization: `Bearer ${o.token}`, 'content-type': MEDIA[o.jsonLines ? 'jsonl' : o.format], accept: 'application/json' },
      body: Readable.toWeb(counted) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
  } catch (e) {
    throw new CliError(`cannot reach ${base}: ${(e as Error).message}`, 3);
  }
  const data = (await res.json().catch(() => ({}))) as { code?: string; message?: string; read?: number; added?: number; unchanged?: number };
  if (!res.ok) throw new AdminApiError(res.status, data.code ?? 'ERR_INTERNAL', data.message ?? `${base} answered ${res.status}`);
  return { read: Number(data.read), added: Number(data.added), unchanged: Number(data.unchanged) };
}
