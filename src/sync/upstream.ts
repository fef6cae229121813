import type { Readable } from 'node:stream';

/** The appliance as central knows it, once its sync token is checked. */
export interface ApplianceContext {
  readonly id: number;
  readonly name: string;
  /** The store whose subtree the appliance serves. */
  readonly storeId: string;
  readonly brandId: number;
  readonly brandAccountId: string;
}

export interface UpstreamRequest {
  readonly json?: unknown;
  readonly query?: Readonly<Record<string, string | number>>;
  /** Longer than the client's default timeout (a long-poll adds its wait). */
  readonly timeoutMs?: number;
}

/**
 * How an appliance calls central: authenticated by its HSM identity key,
 * every call bounded in time and size. A refusal arrives as the SyncError
 * (or other VaultError code) central answered with; a fault that may pass
 * (408, 429, 5xx, a cut link) as ERR_UPSTREAM_UNAVAILABLE.
 */
export interface Upstream {
  readonly url: string;
  request<T>(method: 'GET' | 'POST', path: string, options?: UpstreamRequest): Promise<T>;
  /** A streamed answer (snapshot, blobs). */
  stream(path: string, options?: UpstreamRequest): Promise<Readable>;
}
