import { AssertionError } from './errors.js';
import { HASHES, HASH_RIPEMD160, SUBPACKET_CREATION_TIME, TAG_SIGNATURE, type Mpi } from './openpgp.js';
import { BytesSource, FieldReader, openPacket } from './packet-reader.js';

/**
 * Reading a v4 signature packet exactly as snapd's Go OpenPGP package
 * (x/crypto/openpgp/packet, the version snapd pins) parses it: the same
 * algorithms, the same subpacket rules, the same refusals. snapd itself
 * checks nothing more of a signature than that package does, then hashes
 * the content as it is (whatever the signature type) and verifies.
 */

export interface SignaturePacket {
  readonly sigType: number;
  readonly pubkeyAlgorithm: number;
  readonly hashAlgorithm: number;
  /** The bytes from the version through the hashed subpackets: what the digest covers after the content. */
  readonly hashedPart: Buffer;
  readonly created: number;
  readonly left16: Buffer;
  readonly signature: Mpi;
}

const malformed = (why: string) => new AssertionError('ERR_SIGNATURE_MALFORMED', `cannot decode signature: ${why}`);
const unsupported = (why: string) => new AssertionError('ERR_SIGNATURE_UNSUPPORTED', `cannot verify signature: ${why}`);

/** Public key algorithms the Go parser reads (RSA, RSA sign-only, DSA, ECDSA); only RSA (1) can then verify. */
const PARSED_ALGORITHMS = new Set([1, 3, 17, 19]);

/** Decodes the packet in `raw` (after the format byte), refusing what snapd's `decodeSignature` refuses. */
export function readSignaturePacket(raw: Buffer): SignaturePacket {
  const packet = openPacket(raw, malformed);
  if (packet.tag !== TAG_SIGNATURE) throw malformed(`expected a signature packet, got tag ${packet.tag}`);
  const sig = parseSignature(new FieldReader(packet.contents, malformed));
  if (!packet.fullyRead()) throw malformed('signature has spurious trailing data');
  return sig;
}

interface Subpackets {
  created?: number;
  embedded?: boolean;
}

function parseSignature(r: FieldReader): SignaturePacket {
  const version = r.u8();
  if (version !== 4) throw unsupported(`unsupported signature packet version ${version}`);
  const fixed = r.bytes(5);
  const sigType = fixed[0] as number;
  const pubkeyAlgorithm = fixed[1] as number;
  const hashAlgorithm = fixed[2] as number;
  if (!PARSED_ALGORITHMS.has(pubkeyAlgorithm)) throw unsupported(`unsupported public key algorithm ${pubkeyAlgorithm}`);
  if (hashAlgorithm === HASH_RIPEMD160) throw unsupported('hash function RIPEMD-160 is not available');
  if (HASHES[hashAlgorithm] === undefined) throw unsupported(`unsupported hash function ${hashAlgorithm}`);
  const hashedSubpackets = r.bytes(fixed.readUInt16BE(3));
  const hashedPart = Buffer.concat([Buffer.from([version]), fixed, hashedSubpackets]);
  const seen: Subpackets = {};
  parseSubpackets(hashedSubpackets, true, seen);
  const unhashed = r.bytes(r.u16());
  parseSubpackets(unhashed, false, seen);
  const left16 = Buffer.from(r.bytes(2));
  const signature = r.mpi();
  // DSA and ECDSA signatures carry two integers; they parse, then fail against snapd's RSA keys.
  if (pubkeyAlgorithm === 17 || pubkeyAlgorithm === 19) r.mpi();
  return { sigType, pubkeyAlgorithm, hashAlgorithm, hashedPart, created: seen.created as number, left16, signature };
}

/** Subpacket types Go's parser knows; an unknown one marked critical is refused. */
const KNOWN = new Set([2, 3, 9, 11, 16, 21, 22, 25, 27, 29, 30, 32]);
/** Known types whose contents are checked only in the hashed area, with their required sizes (0: at least one byte). */
const HASHED_SIZES: Readonly<Record<number, number>> = { 3: 4, 9: 4, 25: 1, 27: 0, 29: 0 };
const ISSUER = 16;
const EMBEDDED_SIGNATURE = 32;
const PRIMARY_KEY_BINDING = 0x19;

function parseSubpackets(data: Buffer, hashed: boolean, seen: Subpackets): void {
  let pos = 0;
  while (pos < data.length) {
    const l0 = data[pos] as number;
    let length: number;
    if (l0 < 192) {
      length = l0;
      pos += 1;
    } else if (l0 < 255) {
      if (data.length - pos < 2) throw malformed('signature subpacket truncated');
      length = ((l0 - 192) << 8) + (data[pos + 1] as number) + 192;
      pos += 2;
    } else {
      if (data.length - pos < 5) throw malformed('signature subpacket truncated');
      length = data.readUInt32BE(pos + 1);
      pos += 5;
    }
    if (length > data.length - pos) throw malformed('signature subpacket truncated');
    if (length === 0) throw malformed('zero length signature subpacket');
    const typeByte = data[pos] as number;
    const body = data.subarray(pos + 1, pos + length);
    pos += length;
    visitSubpacket(typeByte & 0x7f, (typeByte & 0x80) !== 0, body, hashed, seen);
  }
  // Go checks this after each area, the hashed one first.
  if (seen.created === undefined) throw malformed('no signature creation time');
}

function visitSubpacket(type: number, critical: boolean, body: Buffer, hashed: boolean, seen: Subpackets): void {
  if (type === SUBPACKET_CREATION_TIME) {
    if (!hashed) throw malformed('signature creation time in non-hashed area');
    if (body.length !== 4) throw malformed('signature creation time not four bytes');
    seen.created = body.readUInt32BE(0);
    return;
  }
  if (type === ISSUER) {
    if (body.length !== 8) throw malformed('issuer subpacket with bad length');
    return;
  }
  if (type === EMBEDDED_SIGNATURE) {
    if (seen.embedded) throw malformed('cannot have multiple embedded signatures');
    seen.embedded = true;
    // Parsed in full from its own bytes (trailing bytes ignored), and it must be a primary key binding.
    const inner = parseSignature(new FieldReader(new BytesSource(body), malformed));
    if (inner.sigType !== PRIMARY_KEY_BINDING) throw malformed(`cross-signature has unexpected type ${inner.sigType}`);
    return;
  }
  const size = HASHED_SIZES[type];
  if (size !== undefined) {
    if (hashed && (size === 0 ? body.length === 0 : body.length !== size)) {
      throw malformed(`subpacket ${type} with bad length`);
    }
    return;
  }
  if (!KNOWN.has(type) && critical) throw unsupported(`unknown critical signature subpacket type ${type}`);
}
