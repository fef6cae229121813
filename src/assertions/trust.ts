import type { Assertion, TrustLookup } from './assertion.js';
import { AssertionError } from './errors.js';
import type { PublicKey } from './public-key.js';
import { verifySignature } from './signature.js';
import { describeValidity, isValidAt, type Validity } from './types/validity.js';

export interface TrustDatabaseOptions {
  /**
   * The trusted roots: account and account-key assertions accepted without
   * checks (Canonical's root for real devices, a local root for tests).
   */
  readonly trusted: readonly Assertion[];
  /** The clock used for "is the signing key valid now"; injectable for tests. */
  readonly now?: () => Date;
}

export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly error: AssertionError };

export interface BatchEntry {
  readonly assertion: Assertion;
  readonly error: AssertionError | undefined;
}

interface SigningKey extends Validity {
  readonly key: PublicKey;
}

/** Errors that a later member of the same batch may cure. */
const RETRYABLE = new Set<AssertionError['code']>(['ERR_KEY_UNKNOWN', 'ERR_PREREQUISITE_MISSING']);

const refKey = (type: string, primaryKey: readonly string[]) => `${type}\u0000${primaryKey.join('\u0000')}`;

/**
 * A small in-memory assertion database with snapd's trust rules: signatures
 * are checked against known account-keys, keys against their validity
 * windows, accounts and account-keys against the trusted roots, serials
 * against their model's `serial-authority`.
 */
export class TrustDatabase implements TrustLookup {
  private readonly now: () => Date;
  private readonly trustedAccounts = new Set<string>();
  private readonly byRef = new Map<string, Assertion>();
  private readonly byType = new Map<string, Assertion[]>();
  /** Account keys by key id, trusted ones included. */
  private readonly keys = new Map<string, { accountId: string; key: SigningKey }>();

  constructor(options: TrustDatabaseOptions) {
    this.now = options.now ?? (() => new Date());
    for (const a of options.trusted) {
      if (a.is('account')) this.trustedAccounts.add(a.view.accountId);
      else if (!a.is('account-key')) {
        throw new AssertionError('ERR_AUTHORITY_NOT_ALLOWED', `cannot trust a ${a.type} assertion: only account and account-key assertions can be trusted roots`);
      }
    }
    for (const a of options.trusted) this.store(a);
  }

  isTrustedAccount(accountId: string): boolean {
    return this.trustedAccounts.has(accountId);
  }

  find(type: string, primaryKey: readonly string[]): Assertion | undefined {
    return this.byRef.get(refKey(type, primaryKey));
  }

  findMany(type: string, match: Readonly<Record<string, string>>): Assertion[] {
    return (this.byType.get(type) ?? []).filter((a) => Object.entries(match).every(([k, v]) => a.headerString(k) === v));
  }

  /** Every known assertion of a type, trusted roots included. */
  all(type: string): readonly Assertion[] {
    return this.byType.get(type) ?? [];
  }

  /** Says whether `a` is valid now against what is known, and if not, why. Adds nothing. */
  check(a: Assertion): CheckResult {
    try {
      this.verify(a);
      return { ok: true };
    } catch (e) {
      if (e instanceof AssertionError) return { ok: false, error: e };
      throw e;
    }
  }

  /** Checks `a` and, when valid, adds it. Throws the reason otherwise. */
  add(a: Assertion): void {
    this.verify(a);
    const existing = this.find(a.type, a.primaryKey);
    if (existing && a.spec.primaryKey.length > 0) {
      if (existing.encode().equals(a.encode())) return;
      if (existing.revision >= a.revision) {
        throw new AssertionError(
          'ERR_REVISION_CONFLICT',
          `cannot add ${a.ref} at revision ${a.revision}: revision ${existing.revision} is already known`,
          { header: 'revision' },
        );
      }
    }
    this.store(a);
  }

  /**
   * Adds assertions in whatever order they come, trying those that wait for
   * a prerequisite again once others are in. Every entry gets its outcome.
   */
  addBatch(assertions: readonly Assertion[]): BatchEntry[] {
    const errors = new Map<number, AssertionError>();
    let pending = assertions.map((_, i) => i);
    for (;;) {
      const stillPending: number[] = [];
      let progressed = false;
      for (const i of pending) {
        try {
          this.add(assertions[i] as Assertion);
          errors.delete(i);
          progressed = true;
        } catch (e) {
          if (!(e instanceof AssertionError)) throw e;
          errors.set(i, e);
          if (RETRYABLE.has(e.code)) stillPending.push(i);
        }
      }
      if (!progressed || stillPending.length === 0) break;
      pending = stillPending;
    }
    return assertions.map((assertion, i) => ({ assertion, error: errors.get(i) }));
  }

  private store(a: Assertion): void {
    const key = refKey(a.type, a.primaryKey);
    const list = this.byType.get(a.type) ?? [];
    const previous = this.byRef.get(key);
    this.byType.set(
      a.type,
      a.spec.primaryKey.length > 0 && previous ? list.map((x) => (x === previous ? a : x)) : [...list, a],
    );
    if (a.spec.primaryKey.length > 0) this.byRef.set(key, a);
    if (a.is('account-key')) {
      const { accountId, publicKey, since, until } = a.view;
      this.keys.set(a.view.publicKeyId, { accountId, key: { key: publicKey, since, until } });
    }
  }

  /** The key that signed `a`, with its validity window when it is an account-key (self-signed types have none). */
  private signingKey(a: Assertion): { readonly key: PublicKey; readonly validity?: Validity } {
    if (a.spec.noAuthority) {
      const key = a.spec.signingKey?.(a, this);
      if (!key) {
        throw new AssertionError('ERR_PREREQUISITE_MISSING', `cannot find the key that signs ${a.ref}`, {
          header: 'sign-key-sha3-384',
        });
      }
      if (key.id !== a.signKeyId) {
        throw new AssertionError('ERR_KEY_UNKNOWN', `no matching public key "${a.signKeyId}" for the signature of ${a.ref}`, {
          header: 'sign-key-sha3-384',
        });
      }
      return { key };
    }
    const entry = this.keys.get(a.signKeyId);
    if (!entry || entry.accountId !== a.authorityId) {
      throw new AssertionError('ERR_KEY_UNKNOWN', `no matching public key "${a.signKeyId}" for signature by "${a.authorityId}"`, {
        header: 'sign-key-sha3-384',
      });
    }
    return { key: entry.key.key, validity: entry.key };
  }

  private verify(a: Assertion): void {
    const { key, validity } = this.signingKey(a);
    if (validity && !isValidAt(validity, this.now())) {
      throw new AssertionError(
        'ERR_KEY_NOT_VALID',
        `assertion is signed with expired public key "${a.signKeyId}" from "${a.authorityId}" (valid ${describeValidity(validity)})`,
        { header: 'sign-key-sha3-384' },
      );
    }
    verifySignature(a.content, a.signaturePacket, key);
    const timestamp = (a.view as { timestamp?: unknown } | undefined)?.timestamp;
    if (validity && timestamp instanceof Date && !isValidAt(validity, timestamp)) {
      throw new AssertionError(
        'ERR_KEY_NOT_VALID',
        `${a.type} assertion timestamp ${timestamp.toISOString()} is outside the signing key's validity (${describeValidity(validity)})`,
        { header: 'timestamp' },
      );
    }
    a.spec.consistency?.(a, this);
  }
}
