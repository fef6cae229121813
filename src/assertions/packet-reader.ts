import type { AssertionError } from './errors.js';

/**
 * How snapd reads the one OpenPGP packet of an encoded key or signature.
 *
 * snapd hands the decoded bytes to Go's x/crypto/openpgp `packet.Read` and
 * then refuses anything left unread ("spurious trailing data"). What is
 * "left unread" depends on Go's readers, not on the packet grammar alone:
 * the packet contents are read through a 4096-byte `bufio.Reader`, so bytes
 * after the parsed fields but inside the same buffered fill are consumed and
 * accepted, partial body lengths and old-format indeterminate lengths are
 * read, and a length larger than the data is only an error when a read
 * actually comes up short. Modelling those readers, rather than the RFC,
 * is what makes our verdicts snapd's.
 */

type Fail = (why: string) => AssertionError;

/** A Go `io.Reader` in miniature: returns up to `max` bytes, an empty buffer at the end, throws on errors. */
export interface ByteSource {
  read(max: number): Buffer;
}

const EMPTY: Buffer = Buffer.alloc(0);

/** `bytes.Reader`. */
export class BytesSource implements ByteSource {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  read(max: number): Buffer {
    const n = Math.min(max, this.remaining);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** `io.ReadFull`, as x/crypto's `readFull` uses it: short input is an error. */
export function readFull(src: ByteSource, n: number, fail: Fail): Buffer {
  if (n === 0) return EMPTY;
  const first = src.read(n);
  if (first.length === n) return first;
  const parts = [first];
  let got = first.length;
  while (got < n) {
    const chunk = src.read(n - got);
    if (chunk.length === 0) throw fail('truncated');
    parts.push(chunk);
    got += chunk.length;
  }
  return Buffer.concat(parts, n);
}

/** `spanReader`: at most `left` bytes; running dry before that is an error. */
class SpanSource implements ByteSource {
  constructor(
    private readonly src: ByteSource,
    private left: number,
    private readonly fail: Fail,
  ) {}
  read(max: number): Buffer {
    if (this.left <= 0) return EMPTY;
    const chunk = this.src.read(Math.min(max, this.left));
    if (chunk.length === 0) throw this.fail('truncated packet');
    this.left -= chunk.length;
    return chunk;
  }
}

/** A new-format body length: one, two or five octets, or a partial length (a power of two). */
function readLength(src: ByteSource, fail: Fail): { length: number; partial: boolean } {
  const l0 = readFull(src, 1, fail)[0] as number;
  if (l0 < 192) return { length: l0, partial: false };
  if (l0 < 224) return { length: ((l0 - 192) << 8) + (readFull(src, 1, fail)[0] as number) + 192, partial: false };
  if (l0 < 255) return { length: 2 ** (l0 & 0x1f), partial: true };
  return { length: readFull(src, 4, fail).readUInt32BE(0), partial: false };
}

/** `partialLengthReader`: chunks of partial lengths until a definite one. */
class PartialSource implements ByteSource {
  constructor(
    private readonly src: ByteSource,
    private remaining: number,
    private partial: boolean,
    private readonly fail: Fail,
  ) {}
  read(max: number): Buffer {
    while (this.remaining === 0) {
      if (!this.partial) return EMPTY;
      ({ length: this.remaining, partial: this.partial } = readLength(this.src, this.fail));
    }
    const chunk = this.src.read(Math.min(max, this.remaining));
    if (chunk.length === 0) throw this.fail('truncated packet');
    this.remaining -= chunk.length;
    return chunk;
  }
}

const BUFIO_SIZE = 4096;

/** `bufio.Reader` with Go's default size: reads ahead in fills of up to 4096 bytes. */
class BufferedSource implements ByteSource {
  private buf: Buffer = EMPTY;
  private r = 0;
  constructor(private readonly src: ByteSource) {}
  /** `Peek(1)`: one fill; false at the end of the input. */
  peekable(): boolean {
    if (this.r < this.buf.length) return true;
    this.buf = this.src.read(BUFIO_SIZE);
    this.r = 0;
    return this.buf.length > 0;
  }
  read(max: number): Buffer {
    if (max === 0) return EMPTY;
    if (this.r === this.buf.length) {
      // A read as large as the buffer goes straight to the source.
      if (max >= BUFIO_SIZE) return this.src.read(max);
      this.buf = this.src.read(BUFIO_SIZE);
      this.r = 0;
      if (this.buf.length === 0) return EMPTY;
    }
    const n = Math.min(max, this.buf.length - this.r);
    const out = this.buf.subarray(this.r, this.r + n);
    this.r += n;
    return out;
  }
}

export interface OpenedPacket {
  readonly tag: number;
  /** The packet contents as the parser reads them (through Go's buffered reader). */
  readonly contents: ByteSource;
  /** True once parsing is done if nothing of the input was left unread. */
  fullyRead(): boolean;
}

/**
 * Opens the single packet in `data` as `packet.Read` does: the header is read
 * directly, the contents through a buffered reader whose first fill happens
 * here (`peekVersion`). Parse the contents, then call `fullyRead()`.
 */
export function openPacket(data: Buffer, fail: Fail): OpenedPacket {
  const src = new BytesSource(data);
  const first = readFull(src, 1, fail)[0] as number;
  if ((first & 0x80) === 0) throw fail('tag byte does not have MSB set');
  let tag: number;
  let body: ByteSource;
  if ((first & 0x40) === 0) {
    tag = (first & 0x3f) >> 2;
    const lengthType = first & 0x03;
    if (lengthType === 3) {
      body = src; // indeterminate: the rest of the input
    } else {
      const size = 1 << lengthType;
      const bytes = readFull(src, size, fail);
      body = new SpanSource(src, bytes.readUIntBE(0, size), fail);
    }
  } else {
    tag = first & 0x3f;
    const { length, partial } = readLength(src, fail);
    body = partial ? new PartialSource(src, length, true, fail) : new SpanSource(src, length, fail);
  }
  const contents = new BufferedSource(body);
  if (!contents.peekable()) throw fail('truncated packet');
  return { tag, contents, fullyRead: () => src.remaining === 0 };
}

/** Field reads over a source: what x/crypto's parsers do with `readFull` and `readMPI`. */
export class FieldReader {
  constructor(
    private readonly src: ByteSource,
    readonly fail: Fail,
  ) {}
  bytes(n: number): Buffer {
    return readFull(this.src, n, this.fail);
  }
  u8(): number {
    return this.bytes(1)[0] as number;
  }
  u16(): number {
    return this.bytes(2).readUInt16BE(0);
  }
  u32(): number {
    return this.bytes(4).readUInt32BE(0);
  }
  /** An MPI as Go reads it: the bit count as given, then that many bits' worth of bytes, leading zeros kept. */
  mpi(): { bits: number; bytes: Buffer } {
    const bits = this.u16();
    return { bits, bytes: Buffer.from(this.bytes((bits + 7) >> 3)) };
  }
}
