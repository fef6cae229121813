import { VaultError } from '../errors.js';

/**
 * Why the audit module refuses. A broken chain found by `verify` is a
 * verdict, not an error: these are what stops a command from giving one.
 * The audit is operated from the command line only; if it ever answers over
 * HTTP these codes join `ErrorCode` in src/http/errors.ts.
 */
export type AuditErrorCode =
  /** A checkpoint would vouch for entries that do not chain onto the last good checkpoint. */
  | 'ERR_AUDIT_CHAIN_BROKEN'
  /** The export file cannot be read (missing, no permission). */
  | 'ERR_AUDIT_EXPORT_UNREADABLE'
  /** The file is not an audit export this version reads (format, version, a malformed line, a key that is not the one it names). */
  | 'ERR_AUDIT_EXPORT_INVALID'
  /** The export's audit key is not the one pinned with --key-id. */
  | 'ERR_AUDIT_KEY_UNTRUSTED';

export class AuditError extends VaultError {
  override readonly name = 'AuditError';
  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
