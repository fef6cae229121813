import { describe, expect, it } from 'vitest';
import { AssertionError, decodeStream, encodeStream, streamPieces, type StreamPiece } from '../../src/assertions/index.js';
import { decodeVector, readVector } from '../support/vectors.js';

/**
 * A stream read in chunks of any size is cut into exactly the assertions
 * the whole-buffer decoder reads, each at its place in the stream.
 */

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function pieces(source: AsyncIterable<Uint8Array> | Uint8Array): Promise<StreamPiece[]> {
  const out: StreamPiece[] = [];
  for await (const p of streamPieces(source)) out.push(p);
  return out;
}

/** An assertion of an unknown type whose body holds blank lines: only `body-length` tells where it ends. */
function withBlankLinesInBody(): Buffer {
  const [serial] = decodeVector('generated/uc16.serial');
  const body = 'first paragraph\n\nsecond\n\n\n';
  const content = `type: x-notes\nauthority-id: test-brand\nbody-length: ${body.length}\nsign-key-sha3-384: ${serial!.signKeyId}\n\n${body}`;
  return Buffer.concat([Buffer.from(content), Buffer.from('\n\n'), serial!.signature]);
}

const stream = Buffer.concat([
  encodeStream([...decodeVector('generated/brand-chain.assert'), ...decodeVector('generated/uc16-serial-stream.assert')]),
  Buffer.from('\n'),
  withBlankLinesInBody(),
  Buffer.from('\n'),
  readVector('generated/uc20.serial'),
]);

describe('streamPieces', () => {
  const whole = decodeStream(stream).map((a) => a.encode());

  it.each([1, 2, 7, 64, 1000, 65536])('cuts a stream read %i bytes at a time into its assertions', async (size) => {
    const got = await pieces(chunked(stream, size));
    expect(got.map((p) => decodeStream(p.bytes).map((a) => a.encode()))).toEqual(whole.map((a) => [a]));
    for (const p of got) expect(stream.subarray(p.offset, p.offset + p.bytes.length).equals(p.bytes)).toBe(true);
  });

  it('reads a whole buffer too, the last assertion without a final line break', async () => {
    const trimmed = stream.subarray(0, stream.length - 1);
    const got = await pieces(trimmed);
    expect(got).toHaveLength(whole.length);
    expect(decodeStream(got[got.length - 1]!.bytes)[0]!.encode().equals(decodeStream(trimmed).at(-1)!.encode())).toBe(true);
  });

  it('hands what cannot be an assertion to the decoder, which says why', async () => {
    const bad = Buffer.concat([stream, Buffer.from('\ntype: account\nauthority-id: x')]);
    const got = await pieces(chunked(bad, 100));
    expect(got).toHaveLength(whole.length + 1);
    expect(() => decodeStream(got.at(-1)!.bytes)).toThrow(AssertionError);
    const huge = await pieces(chunked(Buffer.concat([Buffer.from('type: x\n'), Buffer.alloc(3 * 1024 * 1024, 'a')]), 65536));
    expect(huge).toHaveLength(1);
    expect(() => decodeStream(huge[0]!.bytes)).toThrow(/maximum size/);
  });
});
