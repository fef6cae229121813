import type { TypeSpec } from '../assertion.js';

/** Types the codec has no table entry for still decode; nothing beyond the grammar is checked. */
export function genericType(name: string): TypeSpec<undefined> {
  return { name, primaryKey: [], check: () => undefined };
}
