import { AssertionError } from './errors.js';
import {
  PUBKEY_RSA,
  PUBKEY_RSA_ENCRYPT_ONLY,
  PUBKEY_RSA_SIGN_ONLY,
  TAG_PUBLIC_KEY,
  TAG_PUBLIC_SUBKEY,
  type Mpi,
} from './openpgp.js';
import { FieldReader, openPacket } from './packet-reader.js';

/**
 * Reading the public key packet of snapd's encoded keys as snapd's
 * `DecodePublicKey` does: any v4 RSA key packet (public key or subkey, any
 * of the three RSA algorithm ids), exponent at most three bytes. snapd then
 * keeps only the modulus and exponent; the key id is computed from its own
 * re-encoding (`PublicKey`), not from these bytes.
 */

const RSA_ALGORITHMS = new Set([PUBKEY_RSA, PUBKEY_RSA_ENCRYPT_ONLY, PUBKEY_RSA_SIGN_ONLY]);

export interface RsaKeyNumbers {
  readonly n: Mpi;
  readonly e: Mpi;
}

const fail = (why: string) => new AssertionError('ERR_PUBLIC_KEY_INVALID', `cannot decode public key: ${why}`);

/** Decodes the packet in `raw` (after the format byte). */
export function readPublicKeyPacket(raw: Buffer): RsaKeyNumbers {
  const packet = openPacket(raw, fail);
  if (packet.tag !== TAG_PUBLIC_KEY && packet.tag !== TAG_PUBLIC_SUBKEY) {
    throw fail(`expected a public key packet, got tag ${packet.tag}`);
  }
  const r = new FieldReader(packet.contents, fail);
  const head = r.bytes(6);
  if (head[0] !== 4) throw fail(`unsupported key packet version ${head[0]}`);
  const algorithm = head[5] as number;
  if (!RSA_ALGORITHMS.has(algorithm)) throw fail(`unsupported public key algorithm ${algorithm} (only RSA is supported)`);
  const n = r.mpi();
  const e = r.mpi();
  if (e.bytes.length > 3) throw fail('large public exponent');
  if (!packet.fullyRead()) throw fail('public key has spurious trailing data');
  return { n, e };
}
