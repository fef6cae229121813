import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CRYPT_ALPHABET, parseSha512Setting, randomSalt, sha512Crypt, verifySha512Crypt } from '../../src/provisioning/sha512-crypt.js';

const OPENSSL = '/usr/bin/openssl';

/** openssl's own SHA-512 crypt (the password on standard input, never on a command line): a second opinion on what glibc computes. */
function opensslStdin(password: string, salt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(OPENSSL, ['passwd', '-6', '-salt', salt, '-stdin'], { encoding: 'utf8' }, (e, stdout) => (e ? reject(e) : resolve(stdout.trim())));
    child.stdin?.end(`${password}\n`);
  });
}

/** The test vectors published with the specification ("Unix crypt using SHA-256 and SHA-512", U. Drepper). */
const VECTORS: ReadonlyArray<{ salt: string; rounds?: number; key: string; hash: string }> = [
  { salt: 'saltstring', key: 'Hello world!', hash: '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1' },
  { salt: 'saltstringsaltstring', rounds: 10000, key: 'Hello world!', hash: '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.' },
  { salt: 'toolongsaltstring', rounds: 5000, key: 'This is just a test', hash: '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0' },
  {
    salt: 'anotherlongsaltstring',
    rounds: 1400,
    key: 'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    hash: '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
  },
  { salt: 'short', rounds: 77777, key: 'we have a short salt string but not a short password', hash: '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0' },
  { salt: 'asaltof16chars..', rounds: 123456, key: 'a short string', hash: '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1' },
  { salt: 'roundstoolow', rounds: 10, key: 'the minimum number is still observed', hash: '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.' },
];

describe('SHA-512 crypt', () => {
  for (const v of VECTORS) {
    it(`gives the specification's hash for salt "${v.salt}"${v.rounds ? ` and rounds=${v.rounds}` : ''}`, () => {
      expect(sha512Crypt(v.key, { salt: v.salt, ...(v.rounds !== undefined ? { rounds: v.rounds } : {}) })).toBe(v.hash);
      expect(verifySha512Crypt(v.key, v.hash)).toBe(true);
    });
  }

  it('writes no rounds part at the default 5000 rounds, and one when rounds are asked for', () => {
    expect(sha512Crypt('pw', { salt: 'abc' })).toMatch(/^\$6\$abc\$[./0-9A-Za-z]{86}$/);
    expect(sha512Crypt('pw', { salt: 'abc', rounds: 5000 })).toMatch(/^\$6\$rounds=5000\$abc\$/);
    // Both are the same computation: 5000 is the default.
    expect(sha512Crypt('pw', { salt: 'abc' }).slice(-86)).toBe(sha512Crypt('pw', { salt: 'abc', rounds: 5000 }).slice(-86));
  });

  it('agrees with openssl passwd -6 on passwords of every length class and on UTF-8', async () => {
    // Short, a 64-byte block exactly, longer than a block, and non-ASCII bytes (openssl cuts passwords at 256 bytes).
    const passwords = ['a', 'factory-line-1', 'x'.repeat(64), 'y'.repeat(65), 'z'.repeat(256), 'pässwörd ✓ 口令'];
    for (const password of passwords) {
      const salt = randomSalt();
      expect(sha512Crypt(password, { salt }), `${password.length} characters`).toBe(await opensslStdin(password, salt));
    }
    expect(await opensslStdin('Hello world!', 'rounds=10000$saltstringsaltstring')).toBe(VECTORS[1]!.hash);
  });

  it('hashes what openssl cannot as crypt(3) does: the empty password, and the longest a device takes', () => {
    // Ubuntu's crypt(3) (libxcrypt, through perl's crypt()): openssl 3.0 prints <NULL> for "", and cuts at 256 bytes.
    expect(sha512Crypt('', { salt: 'abc' })).toBe('$6$abc$mJP3a6FyA8uCnzRtlnNypPwjnvpi5TP9qOrInzrfDmwxUQG38PkpCPdqfTb8JQfAngapMxeim4AZ..hSdRRzD.');
    expect(sha512Crypt('w'.repeat(300), { salt: 'abc' })).toBe('$6$abc$jFO8mY6YvqnRB3icjiYKcA9jGC87n1AP8GvAGVfRiVY/.iXJzUagK0Kt27ft4pCmkQrXk1Z01Aj3lRsRYo5Fq0');
    expect(sha512Crypt('w'.repeat(511), { salt: 'abc', rounds: 5000 })).toBe('$6$rounds=5000$abc$DPhp8YUAdZZsqieLFXgJhPR0U/iiH2vvlatWuPaEh/eF1oyi0tCNzdwpC3uJCEmdwdkSukV0X0Ud63Kab5KDg.');
    // Longer, crypt(3) answers "*0"; here it is refused (the key digest costs the square of its length).
    expect(() => sha512Crypt('w'.repeat(512), { salt: 'abc' })).toThrow(RangeError);
    expect(verifySha512Crypt('w'.repeat(512), '$6$abc$x')).toBe(false);
  });

  it('draws 16-character salts from the crypt alphabet, different each time', () => {
    const salts = new Set(Array.from({ length: 50 }, () => randomSalt()));
    expect(salts.size).toBe(50);
    for (const s of salts) expect([...s].every((c) => CRYPT_ALPHABET.includes(c)) && s.length === 16).toBe(true);
    const [a, b] = [sha512Crypt('same'), sha512Crypt('same')];
    expect(a).not.toBe(b);
    expect(verifySha512Crypt('same', a) && verifySha512Crypt('same', b)).toBe(true);
  });

  it('tells a wrong password, a changed hash and a non-$6$ string apart from the right one', () => {
    const hash = VECTORS[0]!.hash;
    expect(verifySha512Crypt('Hello world?', hash)).toBe(false);
    expect(verifySha512Crypt('Hello world!', `${hash.slice(0, -1)}2`)).toBe(false);
    expect(verifySha512Crypt('Hello world!', hash.replace('$6$', '$5$'))).toBe(false);
  });

  it('reads the setting of a hash as glibc does, and refuses salts outside the crypt alphabet', () => {
    expect(parseSha512Setting('$6$rounds=10$roundstoolow$x')).toEqual({ rounds: 1000, salt: 'roundstoolow' });
    expect(parseSha512Setting('$6$toolongsaltstringtoolong$x')).toEqual({ rounds: undefined, salt: 'toolongsaltstrin' });
    expect(parseSha512Setting('$1$abc$x')).toBeUndefined();
    expect(() => sha512Crypt('pw', { salt: 'has space' })).toThrow(RangeError);
    expect(() => sha512Crypt('pw', { salt: '' })).toThrow(RangeError);
  });
});
