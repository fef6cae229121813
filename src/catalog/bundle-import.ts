import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeStream, type Assertion } from '../assertions/index.js';
import { CatalogError } from './errors.js';

const run = promisify(execFile);

/** One `NAME_REV.snap` with its `NAME_REV.assert`, as `snap download` writes them. */
export interface BundleEntry {
  readonly snapFile: string;
  readonly assertions: readonly Assertion[];
  readonly declaration: Assertion;
  readonly revision: Assertion;
}

/**
 * Reads a bundle: a folder, or a tarball of one, holding pairs of
 * `NAME_REV.snap` and `NAME_REV.assert`. A .snap without its .assert (or
 * the reverse), or an .assert without a snap-declaration and snap-revision,
 * is refused, naming the file.
 */
export async function readBundle(path: string): Promise<{ entries: BundleEntry[]; cleanup: () => Promise<void> }> {
  let dir = path;
  let cleanup = async () => undefined as void;
  if (!(await stat(path)).isDirectory()) {
    dir = await mkdtemp(join(tmpdir(), 'sv-import-'));
    cleanup = () => rm(dir, { recursive: true, force: true });
    await run('tar', ['-xf', path, '-C', dir]).catch(async (e: Error) => {
      await cleanup();
      throw new CatalogError('ERR_SIGNING_REFUSED', `cannot unpack ${path}: ${e.message.split('\n')[0]}`);
    });
  }
  const files = (await readdir(dir, { recursive: true })).map(String);
  const snaps = files.filter((f) => f.endsWith('.snap'));
  const entries: BundleEntry[] = [];
  for (const f of files.filter((x) => x.endsWith('.assert'))) {
    if (!snaps.includes(f.replace(/\.assert$/, '.snap'))) throw new CatalogError('ERR_SIGNING_REFUSED', `${f} has no ${f.replace(/\.assert$/, '.snap')} beside it`);
  }
  for (const f of snaps) {
    const assertFile = join(dir, f.replace(/\.snap$/, '.assert'));
    const text = await readFile(assertFile).catch(() => undefined);
    if (!text) throw new CatalogError('ERR_SIGNING_REFUSED', `${f} has no .assert file beside it (snap download writes NAME_REV.snap and NAME_REV.assert)`);
    let assertions: Assertion[];
    try {
      assertions = decodeStream(text);
    } catch (e) {
      throw new CatalogError('ERR_SIGNING_REFUSED', `${assertFile} is not an assertion stream: ${(e as Error).message}`);
    }
    const declaration = assertions.find((a) => a.type === 'snap-declaration');
    const revision = assertions.find((a) => a.type === 'snap-revision');
    if (!declaration || !revision) throw new CatalogError('ERR_SIGNING_REFUSED', `${assertFile} needs the snap's snap-declaration and snap-revision`);
    entries.push({ snapFile: join(dir, f), assertions, declaration, revision });
  }
  return { entries, cleanup };
}

export const openSnapFile = (entry: BundleEntry) => createReadStream(entry.snapFile);
