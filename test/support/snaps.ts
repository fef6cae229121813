import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface SnapYamlInput {
  name: string;
  version?: string | number;
  type?: string;
  architectures?: string[];
  grade?: string;
  provenance?: string;
  base?: string;
  [field: string]: unknown;
}

/**
 * A real .snap: a squashfs image made with mksquashfs (as snapcraft and
 * `snap pack` do) holding meta/snap.yaml and `payload` bytes.
 */
export function buildSnap(outDir: string, yaml: SnapYamlInput, payload: Buffer | string = 'hello\n'): string {
  const root = mkdtempSync(join(tmpdir(), 'sv-snap-src-'));
  try {
    mkdirSync(join(root, 'meta'));
    writeFileSync(join(root, 'meta', 'snap.yaml'), stringify({ version: '1.0', ...yaml }));
    writeFileSync(join(root, 'payload'), payload);
    const file = join(outDir, `${yaml.name}_${String(yaml.version ?? '1.0')}_${(yaml.architectures ?? ['all']).join('-')}_${Math.random().toString(36).slice(2, 8)}.snap`);
    execFileSync('mksquashfs', [root, file, '-noappend', '-comp', 'xz', '-no-xattrs', '-all-root', '-no-progress', '-quiet'], { stdio: 'ignore' });
    return file;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
