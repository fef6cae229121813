import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { PublicKey } from '../assertions/index.js';
import { AuditError } from './errors.js';
import { EXPORT_FORMAT, EXPORT_VERSION, parseCheckpoint, parseEntry, type ExportHeader } from './export.js';
import { AuditVerifier, type AuditVerdict } from './verifier.js';

export interface ExportVerdict {
  readonly verdict: AuditVerdict;
  /** The audit key the checkpoints were checked against, null when the export has none. */
  readonly keyId: string | null;
  /** Whether that key was the one pinned with `keyId`, or only taken from the file. */
  readonly pinned: boolean;
  readonly exportedAt: string;
}

type Line = { readonly n: number; readonly value: Record<string, unknown> };

async function* lines(path: string): AsyncGenerator<Line> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const reader = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of reader) {
      n++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw invalid(n, 'it is not JSON');
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(n, 'it is not a JSON object');
      yield { n, value: value as Record<string, unknown> };
    }
  } catch (e) {
    if (e instanceof AuditError) throw e;
    throw new AuditError('ERR_AUDIT_EXPORT_UNREADABLE', `cannot read ${JSON.stringify(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  } finally {
    reader.close();
    input.destroy();
  }
}

const invalid = (n: number, why: string) => new AuditError('ERR_AUDIT_EXPORT_INVALID', `line ${n} of the export: ${why}`);

function readHeader(line: Line): { header: ExportHeader; key: PublicKey | undefined } {
  const h = line.value;
  if (h['type'] !== 'header' || h['format'] !== EXPORT_FORMAT) throw invalid(line.n, `it is not the header of a "${EXPORT_FORMAT}"`);
  if (h['version'] !== EXPORT_VERSION) throw invalid(line.n, `format version ${JSON.stringify(h['version'])} is not one this vault reads (${EXPORT_VERSION})`);
  const head = h['head'] as { seq?: unknown; hash?: unknown } | undefined;
  if (!head || !Number.isSafeInteger(head.seq) || typeof head.hash !== 'string') throw invalid(line.n, 'the header has no head {seq, hash}');
  if (typeof h['exportedAt'] !== 'string') throw invalid(line.n, 'the header has no exportedAt');
  const named = h['auditKey'] as { keyId?: unknown; publicKey?: unknown } | null | undefined;
  if (named === null) return { header: h as unknown as ExportHeader, key: undefined };
  if (!named || typeof named.keyId !== 'string' || typeof named.publicKey !== 'string') throw invalid(line.n, 'the header\'s auditKey is neither null nor {keyId, publicKey}');
  let key: PublicKey;
  try {
    key = PublicKey.decode(named.publicKey);
  } catch (e) {
    throw invalid(line.n, `the audit key cannot be decoded (${(e as Error).message})`);
  }
  // The id is what a reader pins: it must be this key's, not merely claimed.
  if (key.id !== named.keyId) throw invalid(line.n, `the audit key in the header has id ${key.id}, not the ${named.keyId} it names`);
  return { header: h as unknown as ExportHeader, key };
}

/**
 * Verifies an export with no database and no HSM: the chain, and every
 * checkpoint against the header's audit key, or refuses when `keyId` pins
 * another. Two passes over the file (checkpoints come last, and the verifier
 * wants them before the entries), so a long export is never held in memory.
 */
export async function verifyExportFile(path: string, options: { keyId?: string } = {}): Promise<ExportVerdict> {
  let header: ExportHeader | undefined;
  let verifier: AuditVerifier | undefined;
  let keyId: string | null = null;
  for await (const line of lines(path)) {
    if (!verifier) {
      const read = readHeader(line);
      header = read.header;
      keyId = read.key?.id ?? null;
      if (options.keyId !== undefined && keyId !== options.keyId) {
        throw new AuditError(
          'ERR_AUDIT_KEY_UNTRUSTED',
          keyId ? `the export is signed with audit key ${keyId}, not the pinned ${options.keyId}` : `the export has no audit key (it was made before the first checkpoint), so nothing in it is signed by ${options.keyId}`,
        );
      }
      verifier = new AuditVerifier(read.key);
      continue;
    }
    const type = line.value['type'];
    if (type === 'entry') continue;
    if (type !== 'checkpoint') throw invalid(line.n, `"type" is ${JSON.stringify(type)}, not "entry" or "checkpoint"`);
    const checkpoint = parseCheckpoint(line.value);
    if (typeof checkpoint === 'string') throw invalid(line.n, checkpoint);
    verifier.checkpoint(checkpoint);
  }
  if (!verifier || !header) throw new AuditError('ERR_AUDIT_EXPORT_INVALID', 'the export is empty');
  for await (const line of lines(path)) {
    if (line.value['type'] !== 'entry') continue;
    const row = parseEntry(line.value);
    if (typeof row === 'string') throw invalid(line.n, row);
    if (!verifier.entry(row)) break;
  }
  return { verdict: verifier.end(header.head), keyId, pinned: options.keyId !== undefined, exportedAt: header.exportedAt };
}
