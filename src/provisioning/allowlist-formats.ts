import { ProvisioningError } from './errors.js';
import { JsonArraySerials, type LineFault } from './allowlist-json.js';
import { MAX_SERIAL_LENGTH } from './transient.js';

/** How an allow-list file is written: CSV (one serial a line, or a "serial" column), or JSON (an array, or JSON Lines). */
export type AllowListFormat = 'csv' | 'json';

export type { LineFault } from './allowlist-json.js';

/** What reads a file fed as text, chunk by chunk, calling back with each serial. */
export interface SerialReader {
  feed(text: string): void;
  end(): void;
  /** The line being read, from 1. */
  readonly line: number;
}

/** Longer lines are refused rather than held: a serial is at most 128 characters. */
const MAX_LINE = 64 * 1024;

/** The refusal of a file: nothing of it is applied. */
export function badAllowList(source: string, why: string): ProvisioningError {
  return new ProvisioningError('ERR_ALLOWLIST_INVALID', `cannot import ${source}: ${why}; nothing was imported`);
}

const CONTROL = /\p{Cc}/u;

/**
 * What snapd asks of a serial (a primary key of the serial assertion: not
 * empty, no "/"), plus the vault's column size and no control characters.
 * Returns why not, or undefined.
 */
export function serialProblem(serial: string): string | undefined {
  if (serial.length === 0) return 'the serial is empty';
  // Only a long string can have more than 128 code points; count them only then.
  const length = serial.length > MAX_SERIAL_LENGTH ? [...serial].length : serial.length;
  if (length > MAX_SERIAL_LENGTH) return `the serial has ${length} characters; serials have at most ${MAX_SERIAL_LENGTH}`;
  const control = CONTROL.exec(serial);
  if (control) return `serial ${JSON.stringify(serial)} holds a control character (U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()})`;
  if (serial.includes('/')) return `serial ${JSON.stringify(serial)} contains "/", which snapd refuses in a serial`;
  return undefined;
}

/** Splits text into lines numbered from 1 ("\n" or "\r\n"), holding at most one unfinished line. */
class Lines {
  private rest = '';
  private n = 0;

  constructor(
    private readonly fail: LineFault,
    private readonly onLine: (text: string, line: number) => void,
  ) {}

  get line(): number {
    return this.n + 1;
  }

  feed(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      this.emit(this.rest ? this.rest + piece : piece);
      this.rest = '';
      start = nl + 1;
    }
    if (start < text.length) this.rest += text.slice(start);
    if (this.rest.length > MAX_LINE) this.fail(this.n + 1, `the line is longer than ${MAX_LINE} characters`);
  }

  end(): void {
    if (this.rest) this.emit(this.rest);
    this.rest = '';
  }

  private emit(line: string): void {
    this.n++;
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line, this.n);
  }
}

/** The cells of one CSV record (RFC 4180), or undefined when a quoted cell goes on past the end of `text`. */
function csvCells(text: string, line: number, fail: LineFault): string[] | undefined {
  const cells: string[] = [];
  for (let i = 0; ; ) {
    if (text.charCodeAt(i) !== 0x22) {
      const comma = text.indexOf(',', i);
      cells.push(text.slice(i, comma === -1 ? undefined : comma));
      if (comma === -1) return cells;
      i = comma + 1;
      continue;
    }
    let cell = '';
    for (let from = i + 1; ; ) {
      const quote = text.indexOf('"', from);
      if (quote === -1) return undefined;
      cell += text.slice(from, quote);
      if (text.charCodeAt(quote + 1) !== 0x22) {
        i = quote + 1;
        break;
      }
      cell += '"';
      from = quote + 2;
    }
    cells.push(cell);
    if (i === text.length) return cells;
    if (text.charCodeAt(i) !== 0x2c) fail(line, `a quoted cell is followed by ${JSON.stringify(text[i])}, not by "," or the end of the line`);
    i++;
  }
}

/**
 * CSV: one serial a line, with an optional header `serial` on the first
 * line; a file of several columns needs a header naming its serial column.
 * Blank lines are skipped; a quoted cell may hold commas, quotes ("") and,
 * in other columns, line breaks.
 */
class CsvSerials implements SerialReader {
  private readonly lines: Lines;
  /** The serial column, once the first line has told. */
  private column: number | undefined;
  private headed = false;
  /** A record whose quoted cell goes on over the next line, and the line it started on. */
  private open: { text: string; line: number } | undefined;

  constructor(
    private readonly fail: LineFault,
    private readonly onSerial: (serial: string, line: number) => void,
  ) {
    this.lines = new Lines(fail, (text, n) => this.record(text, n));
  }

  get line(): number {
    return this.lines.line;
  }

  feed(text: string): void {
    this.lines.feed(text);
  }

  end(): void {
    this.lines.end();
    if (this.open) this.fail(this.open.line, 'a quoted cell is not closed before the end of the file');
  }

  private record(physical: string, n: number): void {
    const line = this.open?.line ?? n;
    const text = this.open ? `${this.open.text}\n${physical}` : physical;
    this.open = undefined;
    if (text.trim() === '') return;
    const cells = text.includes('"') || text.includes(',') ? csvCells(text, line, this.fail) : [text];
    if (!cells) {
      if (text.length > MAX_LINE) this.fail(line, `the record is longer than ${MAX_LINE} characters`);
      this.open = { text, line };
      return;
    }
    if (this.column === undefined) {
      const named = cells.findIndex((c) => c.trim().toLowerCase() === 'serial');
      if (named !== -1) {
        this.column = named;
        this.headed = true;
        return;
      }
      if (cells.length > 1) this.fail(line, 'a file of several columns needs a header line naming its "serial" column');
      this.column = 0;
    }
    if (!this.headed && cells.length > 1) this.fail(line, `the line has ${cells.length} cells: without a header naming the "serial" column, a line holds one serial (quote a serial that has a comma)`);
    const serial = cells[this.column];
    if (serial === undefined) this.fail(line, `the line has ${cells.length} cells, and the "serial" column is number ${this.column + 1}`);
    this.onSerial(serial, line);
  }
}

/** JSON Lines: one JSON string, or object with a "serial" string, a line. */
class JsonLinesSerials implements SerialReader {
  private readonly lines: Lines;

  constructor(
    private readonly fail: LineFault,
    private readonly onSerial: (serial: string, line: number) => void,
  ) {
    this.lines = new Lines(fail, (text, n) => this.element(text, n));
  }

  get line(): number {
    return this.lines.line;
  }

  feed(text: string): void {
    this.lines.feed(text);
  }

  end(): void {
    this.lines.end();
  }

  private element(text: string, line: number): void {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      this.fail(line, `the line is not JSON (${(e as Error).message})`);
    }
    if (typeof value === 'string') return this.onSerial(value, line);
    const serial = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)['serial'] : undefined;
    if (typeof serial !== 'string') this.fail(line, 'a line must hold a JSON string or an object with a "serial" string');
    this.onSerial(serial, line);
  }
}

/** JSON: an array when the file starts with "[", else JSON Lines; decided on the first character that is not blank. */
class JsonSerials implements SerialReader {
  private reader: SerialReader | undefined;
  private head = '';

  constructor(
    private readonly fail: LineFault,
    private readonly onSerial: (serial: string, line: number) => void,
  ) {}

  get line(): number {
    return this.reader?.line ?? 1;
  }

  feed(text: string): void {
    if (this.reader) return this.reader.feed(text);
    this.head += text;
    const first = this.head.trimStart();
    if (first === '') {
      if (this.head.length > MAX_LINE) this.fail(1, `the file starts with more than ${MAX_LINE} blank characters`);
      return;
    }
    this.reader = first.startsWith('[') ? new JsonArraySerials(this.fail, this.onSerial) : new JsonLinesSerials(this.fail, this.onSerial);
    this.reader.feed(this.head);
    this.head = '';
  }

  end(): void {
    this.reader?.end();
  }
}

/**
 * Reads the serials of an allow-list file fed as text, checking each and
 * calling `onSerial` with it; a bad line throws ERR_ALLOWLIST_INVALID with
 * `source`, the line's number and why. A byte-order mark is skipped.
 */
export function serialReader(format: AllowListFormat, source: string, onSerial: (serial: string) => void): SerialReader {
  const fail: LineFault = (line, why) => {
    throw badAllowList(source, `line ${line}: ${why}`);
  };
  const checked = (serial: string, line: number) => {
    const problem = serialProblem(serial);
    if (problem) fail(line, problem);
    onSerial(serial);
  };
  const reader = format === 'csv' ? new CsvSerials(fail, checked) : new JsonSerials(fail, checked);
  let started = false;
  return {
    feed(text) {
      if (!started && text.length > 0) {
        started = true;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      reader.feed(text);
    },
    end: () => reader.end(),
    get line() {
      return reader.line;
    },
  };
}
