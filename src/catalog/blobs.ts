import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CatalogError } from './errors.js';
import { checkSquashfsHeader } from './snap-file.js';

export interface StoredBlob {
  /** SHA3-384 of the whole file, unpadded base64url: the snap-revision's `snap-sha3-384`. */
  readonly sha3_384: string;
  readonly size: number;
  readonly path: string;
}

const hexOf = (b64url: string) => Buffer.from(b64url, 'base64url').toString('hex');

/**
 * Snap files by content (SHA3-384) under DATA_DIR/blobs. A file is written
 * to a temporary name while it is hashed, synced, checked, and only then
 * renamed into place: a blob under its digest is always whole, whatever
 * stops the process.
 */
export class BlobStore {
  private readonly tmp: string;
  private source: ((sha3_384: string) => Promise<Readable>) | undefined;
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
  ) {
    this.tmp = join(root, 'tmp');
  }

  pathOf(sha3_384: string): string {
    const hex = hexOf(sha3_384);
    return join(this.root, hex.slice(0, 2), `${hex}.snap`);
  }

  /**
   * Where a missing blob is fetched from (an appliance: central, on
   * demand). What arrives is hashed like an upload and kept only under the
   * digest that was asked for.
   */
  fetchMissingFrom(source: (sha3_384: string) => Promise<Readable>): void {
    this.source = source;
  }

  /** Makes sure the blob is here, fetching it once (however many ask at once) when a source is set. */
  async ensure(sha3_384: string): Promise<void> {
    const source = this.source;
    if (!source || (await stat(this.pathOf(sha3_384)).catch(() => undefined))) return;
    let pending = this.fetching.get(sha3_384);
    if (!pending) {
      pending = (async () => {
        const got = await this.receive(await source(sha3_384));
        if (got.sha3_384 !== sha3_384) {
          await rm(got.path, { force: true });
          throw new CatalogError('ERR_SNAP_DIGEST_MISMATCH', `the snap file fetched for ${sha3_384} has digest ${got.sha3_384}: it was not kept`);
        }
      })().finally(() => this.fetching.delete(sha3_384));
      this.fetching.set(sha3_384, pending);
    }
    await pending;
  }

  /** Removes what an interrupted upload left behind; run at start. */
  async sweep(): Promise<number> {
    const left = await readdir(this.tmp).catch(() => [] as string[]);
    await Promise.all(left.map((f) => rm(join(this.tmp, f), { force: true })));
    return left.length;
  }

  /** Streams `source` in, never holding it whole in memory; refuses anything over the size limit or not a squashfs image. */
  async receive(source: Readable): Promise<StoredBlob> {
    await mkdir(this.tmp, { recursive: true, mode: 0o700 });
    const temp = join(this.tmp, randomBytes(12).toString('hex'));
    const hash = createHash('sha3-384');
    let size = 0;
    const limit = this.maxBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > limit) return done(new CatalogError('ERR_SNAP_TOO_LARGE', `the snap is larger than the limit of ${limit} bytes (catalog.maxSnapBytes)`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(temp, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 }));
      // fsync works on the file, whichever descriptor asks: the bytes are on disk before the rename publishes them.
      const file = await open(temp, 'r+');
      await file.sync().finally(() => file.close());
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    try {
      await checkSquashfsHeader(temp, size);
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    const sha3_384 = hash.digest('base64url');
    const path = this.pathOf(sha3_384);
    await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
    // The same bytes may be here already: the rename replaces them with themselves.
    await rename(temp, path);
    const dir = await open(join(path, '..'), 'r');
    await dir.sync().finally(() => dir.close());
    return { sha3_384, size, path };
  }
}
