import { createHash, verify } from 'node:crypto';
import type { PublicKey } from '../assertions/index.js';

/**
 * A checkpoint: the audit key's signature over the chain's head at one
 * sequence number. Anyone with the key's public half can then tell that the
 * entries up to it are the ones the vault wrote, even someone who could
 * rewrite every row and recompute every hash. Pure: signing happens in the
 * HSM (`checkpoints.ts`), this file only says what is signed and checks it.
 */

/** The HSM label of the audit key: one RSA key per vault, made at the first checkpoint. */
export const AUDIT_KEY_LABEL = 'vault-audit';

export interface Checkpoint {
  /** The last entry it covers. */
  readonly seq: number;
  /** That entry's hash. */
  readonly hash: string;
  /** When it was signed (ISO 8601, UTC). */
  readonly at: string;
  /** The snapd key id (sha3-384) of the key that signed it. */
  readonly keyId: string;
  /** RSA PKCS#1 v1.5 over SHA-512 of the payload, base64. */
  readonly signature: string;
}

/** A domain prefix, so no other message the vault signs can pass for a checkpoint (and none can for them). */
const DOMAIN = 'serial-vault audit checkpoint v1\n';

const HASH = /^[0-9a-f]{64}$/;
const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** Whether the fields can be put into a payload unambiguously (no line breaks, nothing of another shape). */
function wellFormed(c: Pick<Checkpoint, 'seq' | 'hash' | 'at'>): boolean {
  return Number.isSafeInteger(c.seq) && c.seq > 0 && typeof c.hash === 'string' && HASH.test(c.hash) && typeof c.at === 'string' && AT.test(c.at);
}

/** The bytes signed: the prefix, then one field a line. Throws on fields that would make it ambiguous. */
export function checkpointPayload(c: Pick<Checkpoint, 'seq' | 'hash' | 'at'>): Buffer {
  if (!wellFormed(c)) throw new RangeError('a checkpoint covers a positive sequence number, a hex SHA-256 and an ISO 8601 UTC time');
  return Buffer.from(`${DOMAIN}${c.seq}\n${c.hash}\n${c.at}\n`, 'utf8');
}

/** What the HSM is handed: the SHA-512 digest of the payload (`KeyStore.signDigest`). */
export function checkpointDigest(c: Pick<Checkpoint, 'seq' | 'hash' | 'at'>): Buffer {
  return createHash('sha512').update(checkpointPayload(c)).digest();
}

const strictBase64 = (text: string): Buffer | undefined => {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
};

/**
 * Why `c` is not a checkpoint signed by `key`, or undefined when it is. The
 * key id it names must be the key's own; the signature must verify over the
 * payload of its own fields (an edited sequence number or hash fails here).
 */
export function checkpointProblem(key: PublicKey, c: Checkpoint): string | undefined {
  if (c.keyId !== key.id) return `it names key ${JSON.stringify(String(c.keyId))}, not the audit key ${key.id}`;
  if (!wellFormed(c)) return 'its sequence number, hash or time is malformed';
  const signature = strictBase64(c.signature);
  if (!signature) return 'its signature is not base64';
  const good = verify('sha512', checkpointPayload(c), key.toKeyObject(), signature);
  return good ? undefined : `its signature does not verify with the audit key ${key.id}`;
}
