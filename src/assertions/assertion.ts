import type { HeaderValue, Headers } from './headers.js';
import type { SignaturePacket } from './signature-packet.js';
import type { PublicKey } from './public-key.js';

/** What a type's checks see: the decoded headers and body, before the assertion exists. */
export interface AssertionParts {
  readonly type: string;
  readonly headers: Headers;
  readonly body: Buffer | undefined;
  readonly format: number;
  readonly revision: number;
  readonly signKeyId: string;
}

/** What consistency checks may ask of the trust database. */
export interface TrustLookup {
  isTrustedAccount(accountId: string): boolean;
  /** The newest known assertion of `type` with exactly these primary key values. */
  find(type: string, primaryKey: readonly string[]): Assertion | undefined;
  /** Known assertions of `type` whose headers equal every given value. */
  findMany(type: string, match: Readonly<Record<string, string>>): Assertion[];
}

/**
 * One entry of the type table: name, primary key, and the checks snapd runs.
 * `check` runs on decode and before signing, so a freshly signed assertion is
 * as valid as a received one.
 */
export interface TypeSpec<V = unknown> {
  readonly name: string;
  readonly primaryKey: readonly string[];
  /** Values of primary key headers that may be left out (snapd's defaults, e.g. `provenance`). */
  readonly primaryKeyDefaults?: Readonly<Record<string, string>>;
  /** Assertions signed by a key they carry themselves, with no `authority-id`. */
  readonly noAuthority?: boolean;
  check(parts: AssertionParts): V;
  /** For `noAuthority` types: the key the signature must verify against. */
  signingKey?(a: Assertion<V>, db: TrustLookup): PublicKey | undefined;
  /** Checks against other known assertions, once the signature is good. */
  consistency?(a: Assertion<V>, db: TrustLookup): void;
}

/**
 * A decoded assertion. Immutable: `content` and `signature` are the exact
 * bytes received (or produced), so re-encoding is byte for byte.
 */
export class Assertion<V = unknown> {
  constructor(
    readonly spec: TypeSpec<V>,
    private readonly parts: AssertionParts,
    /** The typed view built by the type's checks. */
    readonly view: V,
    /** Headers and body exactly as signed, without the separator before the signature. */
    readonly content: Buffer,
    /** The signature text, as received (snapd's own end in one `\n`). */
    readonly signature: Buffer,
    readonly signaturePacket: SignaturePacket,
  ) {}

  get type(): string {
    return this.parts.type;
  }
  get headers(): Headers {
    return this.parts.headers;
  }
  get body(): Buffer | undefined {
    return this.parts.body;
  }
  get format(): number {
    return this.parts.format;
  }
  get revision(): number {
    return this.parts.revision;
  }
  get signKeyId(): string {
    return this.parts.signKeyId;
  }
  get authorityId(): string {
    const v = this.parts.headers['authority-id'];
    return typeof v === 'string' ? v : '';
  }
  /** When the signature says it was made. */
  get signedAt(): Date {
    return new Date(this.signaturePacket.created * 1000);
  }

  header(name: string): HeaderValue | undefined {
    return this.parts.headers[name];
  }
  /** A header known to be a string (or '' when absent). */
  headerString(name: string): string {
    const v = this.parts.headers[name];
    return typeof v === 'string' ? v : '';
  }

  /** The values of the type's primary key headers, in order. */
  get primaryKey(): string[] {
    return this.spec.primaryKey.map((k) => this.headerString(k) || (this.spec.primaryKeyDefaults?.[k] ?? ''));
  }
  /** A readable reference, `type pk1/pk2/…` (`-` when the type has no primary key). */
  get ref(): string {
    return `${this.type} ${this.spec.primaryKey.length > 0 ? this.primaryKey.join('/') : '-'}`;
  }

  /** The assertion's full text: content, blank line, signature. */
  encode(): Buffer {
    return Buffer.concat([this.content, NLNL, this.signature]);
  }

  is<T extends keyof ViewsByType>(type: T): this is Assertion<ViewsByType[T]> {
    return this.type === type;
  }
}

export const NLNL = Buffer.from('\n\n');

/** Filled in by the type table so `assertion.is('serial')` narrows the view. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ViewsByType {}
