import { setImmediate as turn } from 'node:timers/promises';
import { AssertionError, decodeStream, streamPieces, type Assertion, type CheckResult, type StreamPiece } from '../assertions/index.js';
import type { Actor } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { ProvisioningError } from './errors.js';

export interface ImportProgress {
  /** Assertions read so far. */
  readonly read: number;
  /** Bytes of the stream consumed so far. */
  readonly bytes: number;
}

export interface ImportOptions {
  /** Whether an identity's signature verifies through the vault's trust chain; the caller composes it (`custody.trust()`). */
  readonly check: (a: Assertion) => CheckResult;
  /** Accounts besides the brand whose identities the brand accepts (its manufacturers). */
  readonly issuers?: readonly string[];
  readonly actor?: Actor;
  readonly onProgress?: (p: ImportProgress) => void;
}

export interface ImportCounts {
  readonly read: number;
  readonly added: number;
  readonly unchanged: number;
}

/** An identity checked and waiting for the one transaction that stores the file. */
export interface StagedIdentity {
  /** Its place in the file, from 1, for refusals found only when stored. */
  readonly index: number;
  readonly issuerId: string;
  readonly keyDigest: string;
  readonly hardwareId: string;
  readonly hardwareName: string;
  readonly manufacturer: string;
  readonly assertion: string;
}

const PROGRESS_EVERY = 1000;
/** Checking an identity takes a fraction of a millisecond: give other requests a turn this often. */
const YIELD_EVERY = 500;
/** Rows per statement: 9 columns stay far below SQLite's 32,766 variables. */
const BATCH = 500;

const invalid = (index: number, offset: number, why: string) =>
  new ProvisioningError('ERR_HARDWARE_IDENTITY_INVALID', `cannot import assertion ${index} of the file (at byte ${offset}): ${why}`);

function stage(a: Assertion, index: number, offset: number, trusted: ReadonlySet<string>, brandId: string, check: ImportOptions['check']): StagedIdentity {
  if (!a.is('hardware-identity')) throw invalid(index, offset, `its type is ${a.type}, not hardware-identity`);
  const v = a.view;
  if (!trusted.has(v.issuerId)) {
    throw new ProvisioningError(
      'ERR_HARDWARE_IDENTITY_ISSUER',
      `cannot import assertion ${index} of the file (at byte ${offset}): hardware identity "${v.hardwareId}" is issued by "${v.issuerId}", which brand "${brandId}" does not trust: name it as an issuer (--issuer ${v.issuerId}) if it should`,
    );
  }
  // The columns' sizes (migration 0011): PostgreSQL would refuse a longer value, SQLite keep it.
  for (const [header, value, max] of [['hardware-id', v.hardwareId, 256], ['hardware-name', v.hardwareName, 128], ['manufacturer', v.manufacturer, 256]] as const) {
    if (value.length > max) throw invalid(index, offset, `its "${header}" is longer than the ${max} characters the vault stores`);
  }
  const verdict = check(a);
  if (!verdict.ok) throw invalid(index, offset, `hardware identity "${v.hardwareId}" does not verify: ${verdict.error.message}`);
  return { index, issuerId: v.issuerId, keyDigest: v.hardwareIdKeySha3384, hardwareId: v.hardwareId, hardwareName: v.hardwareName, manufacturer: v.manufacturer, assertion: a.encode().toString('utf8') };
}

/** What is stored for some key digests, read before checking: an identity sent again byte for byte was checked when stored. */
export type StoredLookup = (digests: readonly string[]) => Promise<ReadonlyMap<string, { readonly brandId: string; readonly assertion: string }>>;

const DIGEST_HEADER = /(?:^|\n)hardware-id-key-sha3-384: ([A-Za-z0-9_-]{1,128})(?:\n|$)/;

/** The text an assertion is stored as: its piece without the line break that separates it from the next. */
const storedText = (piece: StreamPiece) => {
  const text = piece.bytes.toString('utf8');
  return text.endsWith('\n\n') ? text.slice(0, -1) : text;
};
const digestOf = (text: string) => DIGEST_HEADER.exec(text.slice(0, Math.max(text.indexOf('\n\n'), 0)))?.[1];

/**
 * Reads and checks a whole file before anything is written, as it streams
 * in; what is kept is one row per new identity (about their size in the
 * file). The first bad assertion stops the import, named by its place.
 * One sent again exactly as stored for the brand is not checked again, so
 * re-importing a file costs little; the same identity twice in a file is
 * kept once.
 */
export async function stageIdentities(brandId: string, source: AsyncIterable<Uint8Array> | Uint8Array, options: ImportOptions, stored: StoredLookup): Promise<{ staged: StagedIdentity[]; read: number }> {
  const trusted = new Set([brandId, ...(options.issuers ?? [])]);
  const byDigest = new Map<string, StagedIdentity>();
  let read = 0;
  let bytes = 0;
  const counted = async (piece: StreamPiece) => {
    read++;
    if (read % PROGRESS_EVERY === 0) options.onProgress?.({ read, bytes: piece.offset + piece.bytes.length });
    if (read % YIELD_EVERY === 0) await turn();
  };
  const group: StreamPiece[] = [];
  const flush = async () => {
    const texts = group.map(storedText);
    const digests = texts.map(digestOf);
    const known = await stored(digests.filter((d): d is string => d !== undefined));
    for (const [i, piece] of group.entries()) {
      const row = known.get(digests[i] ?? '');
      if (row?.brandId === brandId && row.assertion === texts[i]) {
        await counted(piece);
        continue;
      }
      let assertions: Assertion[];
      try {
        assertions = decodeStream(piece.bytes);
      } catch (e) {
        if (e instanceof AssertionError) throw invalid(read + 1, piece.offset, e.message);
        throw e;
      }
      for (const a of assertions) {
        const s = stage(a, read + 1, piece.offset, trusted, brandId, options.check);
        const seen = byDigest.get(s.keyDigest);
        if (seen && seen.assertion !== s.assertion) throw invalid(read + 1, piece.offset, `it has the hardware-id-key of assertion ${seen.index}, with different content`);
        if (!seen) byDigest.set(s.keyDigest, s);
        await counted(piece);
      }
    }
    group.length = 0;
  };
  for await (const piece of streamPieces(source)) {
    group.push(piece);
    bytes = piece.offset + piece.bytes.length;
    if (group.length === BATCH) await flush();
  }
  await flush();
  options.onProgress?.({ read, bytes });
  return { staged: [...byDigest.values()], read };
}

/**
 * Stores staged identities in the caller's transaction. One already stored
 * with the same text is left as it is; one stored with other text (another
 * brand's, or a re-issued assertion for the same key) is refused and the
 * whole file with it: an identity is what a device proves, and replacing
 * it could hand an onboarded device's identity to someone else.
 */
export async function storeIdentities(trx: Database, brandId: string, staged: readonly StagedIdentity[], at: Date): Promise<{ added: number }> {
  let added = 0;
  const importedAt = nowIso(at);
  for (let i = 0; i < staged.length; i += BATCH) {
    const batch = staged.slice(i, i + BATCH);
    const rows = (await trx('hardware_identities').whereIn('key_sha3_384', batch.map((s) => s.keyDigest)).select('key_sha3_384', 'brand_id', 'assertion')) as Array<{ key_sha3_384: string; brand_id: string; assertion: string }>;
    const stored = new Map(rows.map((r) => [r.key_sha3_384, r]));
    const fresh: StagedIdentity[] = [];
    for (const s of batch) {
      const row = stored.get(s.keyDigest);
      if (!row) fresh.push(s);
      else if (row.brand_id !== brandId || row.assertion !== s.assertion) {
        const where = row.brand_id === brandId ? 'with different content' : 'for another brand';
        throw new ProvisioningError('ERR_HARDWARE_IDENTITY_INVALID', `cannot import assertion ${s.index} of the file: hardware identity "${s.hardwareId}" (hardware-id-key-sha3-384 ${s.keyDigest}) is already imported ${where}, and an imported identity is never replaced`);
      }
    }
    if (fresh.length === 0) continue;
    // Ignored on conflict: only an import of the same key committing meanwhile gets here (PostgreSQL; SQLite has one writer), and what it stored stands.
    await trx('hardware_identities')
      .insert(fresh.map((s) => ({ brand_id: brandId, issuer_id: s.issuerId, key_sha3_384: s.keyDigest, hardware_id: s.hardwareId, hardware_name: s.hardwareName, manufacturer: s.manufacturer, assertion: s.assertion, imported_at: importedAt })))
      .onConflict('key_sha3_384')
      .ignore();
    added += fresh.length;
  }
  return { added };
}
