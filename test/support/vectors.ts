import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeStream, type Assertion, type HeaderValue } from '../../src/assertions/index.js';

/** `shared/vectors` beside the project (CI clones the project next to shared/), from source or from dist/. */
export const VECTORS = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'shared', 'vectors');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the assertion vectors are missing: expected shared/vectors beside the project');
    dir = parent;
  }
})();

const NOT_ASSERTIONS = /(^|\/)(README\.md)$|\/keys\/|\/headers\//;

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/** Every assertion file under the vectors, as paths relative to VECTORS (e.g. `generated/uc16.serial`). */
export function vectorFiles(): string[] {
  return walk(VECTORS)
    .map((p) => relative(VECTORS, p))
    .filter((p) => !NOT_ASSERTIONS.test(`/${p}`));
}

export function readVector(path: string): Buffer {
  return readFileSync(join(VECTORS, path));
}

export function decodeVector(path: string): Assertion[] {
  return decodeStream(readVector(path));
}

export interface TestKey {
  readonly name: string;
  readonly privateKey: KeyObject;
  readonly keyId: string;
  readonly encoded: string;
}

/** The private keys in `generated/keys/`, by key id. */
export function generatedKeys(): Map<string, TestKey> {
  const dir = join(VECTORS, 'generated', 'keys');
  const keys = new Map<string, TestKey>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.pem'))) {
    const name = file.slice(0, -4);
    const keyId = readFileSync(join(dir, `${name}.keyid`), 'utf8').trim();
    keys.set(keyId, {
      name,
      keyId,
      privateKey: createPrivateKey(readFileSync(join(dir, file))),
      encoded: readFileSync(join(dir, `${name}.pub`), 'utf8').trim(),
    });
  }
  return keys;
}

export function generatedKey(name: string): TestKey {
  const key = [...generatedKeys().values()].find((k) => k.name === name);
  if (!key) throw new Error(`no generated key ${name}`);
  return key;
}

/** Reads a `generated/headers/*.json` input, resolving `@pubkey:` and `@keyid:` references. */
export function headersInput(name: string): Record<string, HeaderValue> {
  const dir = join(VECTORS, 'generated', 'headers');
  const resolveRefs = (v: unknown): HeaderValue => {
    if (typeof v === 'string') {
      const m = /^@(pubkey|keyid):(.+)$/.exec(v);
      if (!m) return v;
      const base = (m[2] as string).replace(/\.pub$/, '');
      return readFileSync(join(dir, m[1] === 'pubkey' ? `${base}.pub` : `${base}.keyid`), 'utf8').trim();
    }
    if (Array.isArray(v)) return v.map(resolveRefs);
    return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, resolveRefs(x)]));
  };
  return resolveRefs(JSON.parse(readFileSync(join(dir, name), 'utf8'))) as Record<string, HeaderValue>;
}

/** The assertions of a trusted root file set. */
export function roots(...paths: string[]): Assertion[] {
  return paths.flatMap((p) => decodeVector(p));
}
