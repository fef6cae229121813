import { describe, expect, it } from 'vitest';
import { SYNC_RETRY_POLICY, backoffDelay, isRetryable, retryAfterMs, shouldRetry } from '../../src/sync/retry-policy.js';

describe('the sync retry policy', () => {
  it('retries 408, 429, every 5xx and a failed connection, and nothing else', () => {
    for (const status of [408, 429, 500, 502, 503, 504, 599]) expect(isRetryable({ status }), String(status)).toBe(true);
    for (const status of [200, 201, 204, 301, 400, 401, 403, 404, 409, 413, 422]) expect(isRetryable({ status }), String(status)).toBe(false);
    expect(isRetryable({ connectionError: true })).toBe(true);
  });

  it('stops after the bounded number of attempts', () => {
    const policy = { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100 };
    expect(shouldRetry(policy, 1, { status: 503 })).toBe(true);
    expect(shouldRetry(policy, 2, { status: 503 })).toBe(true);
    expect(shouldRetry(policy, 3, { status: 503 })).toBe(false);
    expect(shouldRetry(policy, 1, { status: 400 })).toBe(false);
    expect(SYNC_RETRY_POLICY.maxAttempts).toBeGreaterThan(1);
  });

  it('backs off exponentially with full jitter, never past the maximum delay', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
    const top = () => 0.999999;
    expect(backoffDelay(policy, 1, top)).toBe(99);
    expect(backoffDelay(policy, 2, top)).toBe(199);
    expect(backoffDelay(policy, 3, top)).toBe(399);
    expect(backoffDelay(policy, 9, top)).toBe(999);
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
    for (let i = 0; i < 200; i++) expect(backoffDelay(policy, 1 + (i % 12))).toBeLessThan(1000);
  });

  it('honours a longer Retry-After, within the maximum delay', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(policy, 1, () => 0.5, 700)).toBe(700);
    expect(backoffDelay(policy, 1, () => 0.5, 60_000)).toBe(1000);
    expect(backoffDelay(policy, 4, () => 0.5, 10)).toBe(400);
    expect(retryAfterMs('5')).toBe(5000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});
