/**
 * When an appliance tries a call to central again, and how long it waits.
 * Only faults that may pass are retried: 408 (timed out), 429 (slow down),
 * 5xx, and a connection that failed or was cut. Any other answer is central's
 * decision and trying again would change nothing. Waits grow exponentially
 * with full jitter (so a fleet cut off together does not come back in step),
 * capped, and the number of attempts is bounded.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** The one named policy every sync call follows. */
export const SYNC_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 10_000 };

/** The outcome of one attempt, as the policy sees it: an HTTP status, or no answer at all. */
export type AttemptOutcome = { readonly status: number } | { readonly connectionError: true };

export function isRetryable(outcome: AttemptOutcome): boolean {
  if ('connectionError' in outcome) return true;
  const { status } = outcome;
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): a random
 * time up to min(maxDelay, base · 2^(attempt-1)). `retryAfterMs` (a 429 or
 * 503's Retry-After) is honoured when it asks for longer, within maxDelay.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs !== undefined && retryAfterMs > jittered ? Math.min(policy.maxDelayMs, retryAfterMs) : jittered;
}

/** Whether another attempt follows attempt `attempt` that ended with `outcome`. */
export function shouldRetry(policy: RetryPolicy, attempt: number, outcome: AttemptOutcome): boolean {
  return attempt < policy.maxAttempts && isRetryable(outcome);
}

/** A `Retry-After` header in milliseconds (seconds or an HTTP date), or undefined. */
export function retryAfterMs(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
