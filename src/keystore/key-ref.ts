import { createHash } from 'node:crypto';
import { KeyStoreError } from './errors.js';
import { parsePkcs11Uri } from './pkcs11-uri.js';

/** How the vault names a key on a token: `CKA_LABEL` and `CKA_ID`. */
export interface KeyRef {
  readonly label?: string;
  readonly id?: Buffer;
}

export const VALID_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The `CKA_ID` the vault gives a key: derived from its label, so a URI can name it either way. */
export function idForLabel(label: string): Buffer {
  return createHash('sha256').update(label, 'utf8').digest().subarray(0, 16);
}

export function checkLabel(label: string): string {
  if (!VALID_LABEL.test(label)) {
    throw new KeyStoreError(
      'ERR_HSM_CONFIG',
      `invalid key label "${label}": use 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return label;
}

/**
 * A key reference as users write it: a plain label (`brand-2026`) or a
 * PKCS#11 URI naming the object (`pkcs11:object=brand-2026` or `pkcs11:id=%01%02`).
 */
export function parseKeyRef(ref: string): KeyRef {
  if (ref.toLowerCase().startsWith('pkcs11:')) {
    const uri = parsePkcs11Uri(ref);
    if (uri.object === undefined && uri.id === undefined) {
      throw new KeyStoreError('ERR_HSM_CONFIG', `key reference "${ref}" names no object: give "object=" or "id="`);
    }
    return { ...(uri.object !== undefined ? { label: uri.object } : {}), ...(uri.id !== undefined ? { id: uri.id } : {}) };
  }
  return { label: checkLabel(ref) };
}

export function describeRef(ref: KeyRef): string {
  if (ref.label !== undefined) return `"${ref.label}"`;
  return `with id ${ref.id?.toString('hex') ?? '?'}`;
}
