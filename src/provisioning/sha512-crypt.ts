import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * SHA-512 crypt (`$6$`), as Ulrich Drepper's "Unix crypt using SHA-256 and
 * SHA-512" specifies it: the hash glibc's crypt(3) computes when a device
 * checks a password, and the only kind snapd lets a system-user carry.
 */

/** crypt(3)'s base-64 alphabet: not RFC 4648's, and least significant bits first. */
export const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const DEFAULT_ROUNDS = 5000;
export const MIN_ROUNDS = 1000;
export const MAX_ROUNDS = 999_999_999;
/**
 * Ubuntu's crypt(3) (libxcrypt) refuses longer passphrases, and so do we:
 * the key digest costs the square of the key's length.
 */
export const MAX_KEY_BYTES = 511;
/** Longer salts are cut to this length by the algorithm itself. */
export const MAX_SALT_LENGTH = 16;

export interface Sha512CryptOptions {
  /** Characters of the crypt alphabet, up to 16 (more are cut); default 16 random ones. */
  readonly salt?: string;
  /**
   * Default 5000, written as no `rounds=` part. A value outside 1000 –
   * 999999999 is clamped, as the specification says; snapd refuses a
   * system-user password with fewer than 5000.
   */
  readonly rounds?: number;
}

/** 16 characters from the crypt alphabet, uniformly drawn: about 96 bits. */
export function randomSalt(length = MAX_SALT_LENGTH): string {
  let salt = '';
  for (let i = 0; i < length; i++) salt += CRYPT_ALPHABET[randomInt(CRYPT_ALPHABET.length)];
  return salt;
}

/** SHA-512 of `part` repeated `times` times. */
const sha512Repeated = (part: Buffer, times: number): Buffer => {
  const h = createHash('sha512');
  for (let i = 0; i < times; i++) h.update(part);
  return h.digest();
};

/** `length` bytes of `digest` repeated: the algorithm's P and S sequences, and step 11's tail. */
function repeatTo(digest: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += digest.length) digest.copy(out, i, 0, Math.min(digest.length, length - i));
  return out;
}

/** The order the specification takes the 64 digest bytes in, three at a time, for the output. */
const OUTPUT_ORDER: ReadonlyArray<readonly [number, number, number]> = Array.from({ length: 21 }, (_, i) => {
  // Each triple's bytes step by 21 modulo 63; which one leads rotates with i.
  const a = i;
  const b = i + 21;
  const c = i + 42;
  return [[a, b, c], [b, c, a], [c, a, b]][i % 3] as [number, number, number];
});

function encodeDigest(digest: Buffer): string {
  let out = '';
  const put = (w: number, n: number) => {
    for (let i = 0; i < n; i++, w >>>= 6) out += CRYPT_ALPHABET[w & 0x3f];
  };
  for (const [x, y, z] of OUTPUT_ORDER) put(((digest[x] as number) << 16) | ((digest[y] as number) << 8) | (digest[z] as number), 4);
  put(digest[63] as number, 2);
  return out;
}

/** The 86-character hash part of `$6$…$hash` for a password, salt and number of rounds. */
function digestOf(key: Buffer, salt: Buffer, rounds: number): string {
  // Digest B, then digest A: key, salt, B for every byte of the key, then key or B for each bit of its length.
  const b = createHash('sha512').update(key).update(salt).update(key).digest();
  const a = createHash('sha512').update(key).update(salt).update(repeatTo(b, key.length));
  for (let n = key.length; n > 0; n >>>= 1) a.update(n & 1 ? b : key);
  let c = a.digest();
  // The key and salt sequences: digests of the key repeated, and of the salt repeated 16 + A[0] times.
  const p = repeatTo(sha512Repeated(key, key.length), key.length);
  const s = repeatTo(sha512Repeated(salt, 16 + (c[0] as number)), salt.length);
  // The rounds: what each takes, and in which order, depends on the round's number.
  for (let i = 0; i < rounds; i++) {
    const h = createHash('sha512');
    h.update(i & 1 ? p : c);
    if (i % 3 !== 0) h.update(s);
    if (i % 7 !== 0) h.update(p);
    h.update(i & 1 ? c : p);
    c = h.digest();
  }
  return encodeDigest(c);
}

/** glibc takes any byte but "$"; snapd takes only the crypt alphabet, and so do we. */
const SALT = /^[./0-9A-Za-z]+$/;

const clampRounds = (n: number) => Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Math.trunc(n)));

/** `$6$[rounds=N$]salt$hash` for a password (its UTF-8 bytes). */
export function sha512Crypt(password: string | Uint8Array, options: Sha512CryptOptions = {}): string {
  const key = Buffer.from(typeof password === 'string' ? Buffer.from(password, 'utf8') : password);
  if (key.length > MAX_KEY_BYTES) throw new RangeError(`crypt(3) takes passwords of at most ${MAX_KEY_BYTES} bytes`);
  const salt = (options.salt ?? randomSalt()).slice(0, MAX_SALT_LENGTH);
  if (!SALT.test(salt)) throw new RangeError(`a crypt salt is 1 to ${MAX_SALT_LENGTH} characters of ${CRYPT_ALPHABET}`);
  const custom = options.rounds !== undefined;
  const rounds = custom ? clampRounds(options.rounds as number) : DEFAULT_ROUNDS;
  const prefix = custom ? `$6$rounds=${rounds}$` : '$6$';
  return `${prefix}${salt}$${digestOf(key, Buffer.from(salt, 'utf8'), rounds)}`;
}

export interface CryptSetting {
  readonly rounds: number | undefined;
  readonly salt: string;
}

/**
 * The salt and rounds of a `$6$` string (a full hash or just its setting),
 * read as glibc reads them; undefined when it is not SHA-512 crypt.
 */
export function parseSha512Setting(setting: string): CryptSetting | undefined {
  if (!setting.startsWith('$6$')) return undefined;
  let rest = setting.slice(3);
  let rounds: number | undefined;
  const m = /^rounds=(\d+)\$/.exec(rest);
  if (m) {
    rounds = clampRounds(Number(m[1]));
    rest = rest.slice(m[0].length);
  }
  const end = rest.indexOf('$');
  const salt = (end === -1 ? rest : rest.slice(0, end)).slice(0, MAX_SALT_LENGTH);
  return SALT.test(salt) ? { rounds, salt } : undefined;
}

/** Whether `password` gives `hash` (a `$6$` hash), compared in constant time. */
export function verifySha512Crypt(password: string | Uint8Array, hash: string): boolean {
  const setting = parseSha512Setting(hash);
  if (!setting || Buffer.byteLength(password) > MAX_KEY_BYTES) return false;
  const again = Buffer.from(sha512Crypt(password, { salt: setting.salt, ...(setting.rounds !== undefined ? { rounds: setting.rounds } : {}) }));
  const given = Buffer.from(hash);
  return again.length === given.length && timingSafeEqual(again, given);
}
