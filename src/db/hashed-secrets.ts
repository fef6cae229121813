import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Secrets the database keeps only as hashes (API keys, access tokens,
 * session ids). They carry 192 bits of randomness or more, so SHA-256 is
 * enough: no slow password hash is needed.
 */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** Whether `secret` hashes to `storedHex`, compared in constant time. */
export function matchesHash(secret: string, storedHex: string): boolean {
  const expected = Buffer.from(storedHex, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
