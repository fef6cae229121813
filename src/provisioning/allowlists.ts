import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { OPERATOR_ACTOR, UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';
import { count } from '../db/errors.js';
import { badAllowList, serialReader, type AllowListFormat } from './allowlist-formats.js';
import type { StationRecord } from './stations.js';

export type { AllowListFormat } from './allowlist-formats.js';

export interface ImportProgress {
  /** Lines of the file read so far. */
  readonly lines: number;
  /** Bytes read so far, when the file comes as a byte stream. */
  readonly bytes?: number;
}

export interface ImportOptions {
  readonly format: AllowListFormat;
  readonly onProgress?: (p: ImportProgress) => void;
  readonly actor?: Actor;
  /** The file's name, for messages and the audit record. */
  readonly source?: string;
  /** A larger byte stream is refused (an upload's bound). */
  readonly maxBytes?: number;
}

export interface ImportResult {
  /** Serials in the file, repeats included. */
  readonly read: number;
  /** Serials now on the list that were not before. */
  readonly added: number;
  /** Serials read that added nothing: already listed, or repeated in the file. */
  readonly unchanged: number;
}

/** Rows a staging insert carries: about 1,000 bound values, well under either database's limit. */
const BATCH = 500;
/** Staging rows of an import that died (killed, power lost) are removed by the next import after this. */
const STALE_MS = 60 * 60 * 1000;
const MAX_PAGE = 10_000;
/** Written out once: knex's query builder made each batch's insert take half as long again (5.1 against 3.2 ms for 500 rows, here). */
const stagingInsert = (rows: number) => `insert into allowlist_staging (import_id, serial) values ${new Array<string>(rows).fill('(?, ?)').join(', ')}`;
const FULL_BATCH_SQL = stagingInsert(BATCH);

/** An import's id starts with its time in fixed-width hex, so stale ones are a range of the index. */
const idPrefix = (at: number) => Math.max(0, at).toString(16).padStart(12, '0');
const newImportId = (at: Date) => `${idPrefix(at.getTime())}-${randomBytes(8).toString('hex')}`;

/** Text chunks of the input, with the bytes read so far; an iterable of strings yields the file's lines. */
async function* textOf(input: AsyncIterable<string> | Readable, fail: (why: string, before: string) => never): AsyncGenerator<{ text: string; bytes?: number }> {
  if (!(input instanceof Readable)) {
    for await (const line of input) yield { text: line.endsWith('\n') ? line : `${line}\n` };
    return;
  }
  // The byte-order mark is left for the reader, which skips one in either case.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const decode = (chunk?: Buffer) => {
    try {
      return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
    } catch {
      // The text before the first bad byte, so the refusal can name its line.
      const lossy = chunk ? new TextDecoder('utf-8', { ignoreBOM: true }).decode(chunk) : '';
      const at = lossy.indexOf('\ufffd');
      return fail('the file is not UTF-8 text', at === -1 ? '' : lossy.slice(0, at));
    }
  };
  let bytes = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    if (typeof chunk === 'string') {
      bytes += Buffer.byteLength(chunk);
      yield { text: chunk, bytes };
    } else {
      bytes += chunk.length;
      yield { text: decode(chunk), bytes };
    }
  }
  yield { text: decode(), bytes };
}

/**
 * Each station's allow-list: the serials it may have issued, when its
 * `allowlist` flag is on (checked in serial-checks.ts). An import streams
 * the file into a staging table under an import id, in short batches so
 * registrations go on meanwhile, then moves it onto the list in one unit of
 * work with its audit record: all of the file or, on any bad line, failure
 * or interruption, none of it. Importing the same file again changes
 * nothing and records nothing.
 */
export class AllowLists {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Reads `input` (a byte stream of the file, or its lines) and adds its serials to the station's list. */
  async import(station: StationRecord, input: AsyncIterable<string> | Readable, options: ImportOptions): Promise<ImportResult> {
    const source = options.source ?? 'the allow-list';
    const fail = (why: string): never => {
      throw badAllowList(source, why);
    };
    await this.removeStale();
    const importId = newImportId(this.clock());
    const batch: string[] = [];
    let read = 0;
    const reader = serialReader(options.format, source, (serial) => {
      batch.push(serial);
      read++;
    });
    try {
      let bytes: number | undefined;
      const notText = (why: string, before: string) => {
        reader.feed(before);
        return fail(`line ${reader.line}: ${why}`);
      };
      for await (const chunk of textOf(input, notText)) {
        bytes = chunk.bytes;
        if (options.maxBytes !== undefined && (bytes ?? 0) > options.maxBytes) fail(`the file is larger than ${options.maxBytes} bytes`);
        reader.feed(chunk.text);
        while (batch.length >= BATCH) await this.stage(importId, batch.splice(0, BATCH));
        options.onProgress?.({ lines: reader.line - 1, ...(bytes !== undefined ? { bytes } : {}) });
      }
      reader.end();
      if (batch.length > 0) await this.stage(importId, batch.splice(0));
      options.onProgress?.({ lines: reader.line - 1, ...(bytes !== undefined ? { bytes } : {}) });
      return await this.move(station, importId, read, { actor: options.actor ?? OPERATOR_ACTOR, source: options.source ?? null });
    } catch (e) {
      await this.db('allowlist_staging').where({ import_id: importId }).delete().catch(() => undefined);
      throw e;
    }
  }

  /** One short statement per batch: on SQLite a registration's write waits for one batch at most, never for the file. */
  private async stage(importId: string, serials: readonly string[]): Promise<void> {
    const bindings: string[] = [];
    for (const serial of serials) bindings.push(importId, serial);
    await this.db.raw(serials.length === BATCH ? FULL_BATCH_SQL : stagingInsert(serials.length), bindings);
  }

  /** The staged serials onto the list, all at once, with an audit record when any is new. */
  private move(station: StationRecord, importId: string, read: number, o: { actor: Actor; source: string | null }): Promise<ImportResult> {
    return new UnitOfWork(this.db, this.clock).run(o.actor, async (trx, record) => {
      const before = await this.countIn(trx, station);
      // ON CONFLICT DO NOTHING reads the same on SQLite and PostgreSQL, and skips a serial the file repeats as it skips one
      // already listed, so no DISTINCT: on SQLite that made a shuffled million-row file take 15 s instead of 1.3 s.
      // In the index's order, the inserts walk its pages once instead of at random (10 s for a shuffled file without it).
      // The WHERE keeps SQLite's parser from taking ON for a join's.
      await trx.raw('insert into allowlist_serials (station_id, serial) select cast(? as integer), serial from allowlist_staging where import_id = ? order by serial on conflict do nothing', [station.id, importId]);
      const added = (await this.countIn(trx, station)) - before;
      await trx('allowlist_staging').where({ import_id: importId }).delete();
      if (added > 0) {
        await record({ action: 'allowlist.import', targetType: 'station', targetId: `${station.brandId}/${station.name}`, storeId: station.brandId, before: null, after: { added, read, source: o.source } });
      }
      return { read, added, unchanged: read - added };
    });
  }

  /** Staging rows of imports that started over an hour ago: they died without cleaning up. */
  private async removeStale(): Promise<void> {
    await this.db('allowlist_staging').where('import_id', '<', idPrefix(this.clock().getTime() - STALE_MS)).delete();
  }

  /** Takes serials off the station's list; returns how many were on it. */
  async remove(station: StationRecord, serials: readonly string[], actor: Actor = OPERATOR_ACTOR): Promise<number> {
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      let removed = 0;
      for (let i = 0; i < serials.length; i += BATCH) {
        removed += Number(await trx('allowlist_serials').where({ station_id: station.id }).whereIn('serial', serials.slice(i, i + BATCH)).delete());
      }
      if (removed > 0) {
        await record({ action: 'allowlist.remove', targetType: 'station', targetId: `${station.brandId}/${station.name}`, storeId: station.brandId, before: null, after: { removed, asked: serials.length } });
      }
      return removed;
    });
  }

  async count(station: StationRecord): Promise<number> {
    return this.countIn(this.db, station);
  }

  private async countIn(db: Database, station: StationRecord): Promise<number> {
    const row = (await db('allowlist_serials').where({ station_id: station.id }).count({ n: '*' }).first()) as { n: unknown } | undefined;
    return count(row?.n);
  }

  /** Serials of the list in the database's order, after `after`: a page at a time, by key. */
  async page(station: StationRecord, o: { after?: string; limit: number }): Promise<string[]> {
    const q = this.db('allowlist_serials').where({ station_id: station.id }).orderBy('serial').limit(Math.min(Math.max(1, Math.floor(o.limit)), MAX_PAGE));
    if (o.after !== undefined) q.where('serial', '>', o.after);
    return ((await q.select('serial')) as Array<{ serial: string }>).map((r) => r.serial);
  }

  async has(station: StationRecord, serial: string): Promise<boolean> {
    return (await this.db('allowlist_serials').where({ station_id: station.id, serial }).first('serial')) !== undefined;
  }
}
