import pkcs11js from 'pkcs11js';
import { KeyStoreError, type KeyStoreErrorCode } from '../errors.js';

/** `CKR_*` names by value, read from the binding's constants. */
const NAMES = new Map<number, string>(
  Object.entries(pkcs11js as unknown as Record<string, unknown>)
    .filter(([k, v]) => k.startsWith('CKR_') && typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

export function ckrName(code: number): string {
  return NAMES.get(code) ?? `CKR_0x${code.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** Our code for each PKCS#11 return value we expect; everything else is ERR_HSM_FAILED. */
const CODES: ReadonlyArray<readonly [KeyStoreErrorCode, readonly number[], string]> = [
  ['ERR_HSM_LOGIN_FAILED', [pkcs11js.CKR_PIN_INCORRECT, pkcs11js.CKR_PIN_INVALID, pkcs11js.CKR_PIN_LEN_RANGE], 'the HSM refused the PIN; check the PIN source (it is not retried: HSMs lock PINs after repeated failures)'],
  ['ERR_HSM_PIN_LOCKED', [pkcs11js.CKR_PIN_LOCKED, pkcs11js.CKR_PIN_EXPIRED], 'the HSM user PIN is locked or expired: a security officer must reset it'],
  [
    'ERR_HSM_UNAVAILABLE',
    [
      pkcs11js.CKR_TOKEN_NOT_PRESENT,
      pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
      pkcs11js.CKR_DEVICE_REMOVED,
      pkcs11js.CKR_DEVICE_ERROR,
      pkcs11js.CKR_DEVICE_MEMORY,
      pkcs11js.CKR_SESSION_HANDLE_INVALID,
      pkcs11js.CKR_SESSION_CLOSED,
      pkcs11js.CKR_SESSION_COUNT,
      pkcs11js.CKR_SLOT_ID_INVALID,
      pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
      pkcs11js.CKR_GENERAL_ERROR,
      pkcs11js.CKR_USER_NOT_LOGGED_IN,
      pkcs11js.CKR_KEY_HANDLE_INVALID,
      pkcs11js.CKR_OBJECT_HANDLE_INVALID,
    ],
    'the HSM is not available',
  ],
  [
    'ERR_HSM_NOT_PERMITTED',
    [
      pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED,
      pkcs11js.CKR_FUNCTION_NOT_SUPPORTED,
      pkcs11js.CKR_MECHANISM_INVALID,
      pkcs11js.CKR_ATTRIBUTE_SENSITIVE,
      0x1b, // CKR_ACTION_PROHIBITED (PKCS#11 2.40), missing from the binding's constants
      pkcs11js.CKR_KEY_TYPE_INCONSISTENT,
      pkcs11js.CKR_TOKEN_WRITE_PROTECTED,
      pkcs11js.CKR_TEMPLATE_INCONSISTENT,
      pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID,
    ],
    'the HSM does not permit this operation',
  ],
];

const BY_CODE = new Map<number, { code: KeyStoreErrorCode; meaning: string }>(
  CODES.flatMap(([code, ckrs, meaning]) => ckrs.map((c) => [c, { code, meaning }] as const)),
);

/** Translates a PKCS#11 failure into our error; `what` says what was being done. */
export function fromCkr(ckr: number, what: string): KeyStoreError {
  const name = ckrName(ckr);
  const mapped = BY_CODE.get(ckr);
  if (mapped) return new KeyStoreError(mapped.code, `cannot ${what}: ${mapped.meaning} (${name})`, name);
  return new KeyStoreError('ERR_HSM_FAILED', `cannot ${what}: the HSM failed (${name})`, name);
}
