/**
 * The one error root. Every refusal or fault a module reports is a
 * `VaultError` with a stable `code`; each module's codes are its own union
 * (`AssertionErrorCode`, `KeyStoreErrorCode`, …), gathered into one
 * `ErrorCode` where they meet a client (`src/http/errors.ts`, whose status
 * table does not compile until every code has a status). HTTP and the
 * command line render them with this single `instanceof`.
 */
export abstract class VaultError extends Error {
  abstract readonly code: string;
}

export function isVaultError(e: unknown): e is VaultError {
  return e instanceof VaultError;
}
