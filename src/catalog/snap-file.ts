import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CatalogError } from './errors.js';

const run = promisify(execFile);
const SUPERBLOCK_BYTES = 96;

/**
 * A .snap is a squashfs image: "hsqs", then a superblock whose
 * `bytes_used` (offset 40) says how long the image is. A shorter file was
 * cut off in transfer.
 */
export async function checkSquashfsHeader(path: string, size: number): Promise<void> {
  const file = await open(path, 'r');
  const head = Buffer.alloc(SUPERBLOCK_BYTES);
  try {
    await file.read(head, 0, SUPERBLOCK_BYTES, 0);
  } finally {
    await file.close();
  }
  if (size < 4 || head.subarray(0, 4).toString('latin1') !== 'hsqs') {
    throw new CatalogError('ERR_SNAP_NOT_SQUASHFS', 'the file is not a snap: a .snap is a squashfs image (starting with "hsqs"); build it with snapcraft or "snap pack"');
  }
  const used = size >= SUPERBLOCK_BYTES ? Number(head.readBigUInt64LE(40)) : Infinity;
  if (used > size) throw new CatalogError('ERR_SNAP_TRUNCATED', `the file is truncated: its squashfs image needs ${Number.isFinite(used) ? used : 'more than'} bytes, the file has ${size}; upload it again`);
}

/** The text of meta/snap.yaml, read with squashfs-tools' unsquashfs. */
export async function readSnapYaml(path: string): Promise<string> {
  try {
    const { stdout } = await run('unsquashfs', ['-cat', path, 'meta/snap.yaml'], { maxBuffer: 1 << 20, timeout: 60_000, encoding: 'utf8' });
    if (stdout.trim() === '') throw new Error('empty');
    return stdout;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('unsquashfs is not installed (squashfs-tools): run scripts/install.sh');
    throw new CatalogError('ERR_SNAP_YAML_INVALID', 'the snap has no readable meta/snap.yaml');
  }
}
