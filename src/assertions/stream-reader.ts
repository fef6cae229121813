import { NLNL } from './assertion.js';
import { MAX_BODY_SIZE, MAX_HEADERS_SIZE, MAX_SIGNATURE_SIZE } from './codec.js';

/** One assertion's text as cut from a stream, with where it starts in the stream. */
export interface StreamPiece {
  readonly offset: number;
  readonly bytes: Buffer;
}

/** Anything longer cannot be one valid assertion: handed to the decoder whole, which says why. */
const MAX_ASSERTION = MAX_HEADERS_SIZE + MAX_BODY_SIZE + MAX_SIGNATURE_SIZE + 4;

/** A top-level header starts a line; continuation lines of values are indented, so cannot match. */
const BODY_LENGTH = /(?:^|\n)body-length: (\d+)(?:\n|$)/;

/**
 * Where the first whole assertion in `buf` from `pos` ends, by the stream
 * decoder's rule (headers to a blank line, `body-length` bytes of body, a
 * blank line, the signature to the next blank line), or -1 when more input
 * is needed. Only finds boundaries: the decoder checks everything again.
 */
function assertionEnd(buf: Buffer, pos: number): number {
  const headEnd = buf.indexOf(NLNL, pos);
  if (headEnd === -1) return -1;
  const length = Number(BODY_LENGTH.exec(buf.toString('latin1', pos, headEnd))?.[1] ?? 0);
  let cursor = headEnd + 2;
  if (length > 0) {
    cursor += length + 2;
    if (cursor > buf.length) return -1;
  }
  const sigEnd = buf.indexOf(NLNL, cursor);
  return sigEnd === -1 ? -1 : sigEnd + 2;
}

/**
 * Cuts a stream of assertions, as it arrives in chunks, into one piece per
 * assertion, so a file of any size is decoded with one assertion in memory
 * at a time. Each piece decodes with `decodeStream` exactly as it would
 * inside the whole stream; the last piece is whatever remains at the end.
 */
export async function* streamPieces(source: AsyncIterable<Uint8Array> | Uint8Array): AsyncGenerator<StreamPiece> {
  const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = source instanceof Uint8Array ? [source] : source;
  let pending = Buffer.alloc(0);
  let offset = 0;
  for await (const chunk of chunks) {
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    let pos = 0;
    for (let end = assertionEnd(pending, 0); end !== -1; end = assertionEnd(pending, pos)) {
      yield { offset: offset + pos, bytes: pending.subarray(pos, end) };
      pos = end;
    }
    if (pending.length - pos > MAX_ASSERTION) {
      yield { offset: offset + pos, bytes: pending.subarray(pos) };
      return;
    }
    offset += pos;
    pending = pending.subarray(pos);
  }
  if (pending.length > 0) yield { offset, bytes: pending };
}
