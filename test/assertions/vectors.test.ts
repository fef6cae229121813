import { describe, expect, it } from 'vitest';
import {
  AssertionError,
  TrustDatabase,
  decodeStream,
  encodeStream,
  isCanonical,
  type Assertion,
  type AssertionErrorCode,
} from '../../src/assertions/index.js';
import { decodeVector, readVector, roots, vectorFiles } from '../support/vectors.js';

/**
 * The vectors are the referee (../shared/vectors/README.md). Files are
 * enumerated, so a vector added later is tested without code changes:
 * - every file outside `negative/` decodes and re-encodes byte for byte;
 * - every file under `negative/` is refused, by decoding or by verification;
 * - every good `generated/` assertion verifies with `test-root` trusted;
 * - the `snapd/` files verify (or not) as the README's expectations below say.
 */

const ROOTS = {
  'test-root': ['generated/root.trusted.assert'],
  canonical: ['snapd/canonical/canonical.account', 'snapd/canonical/canonical-root.account-key'],
  testrootorg: ['snapd/testrootorg/testrootorg.account', 'snapd/testrootorg/testrootorg-root.account-key'],
} as const;
type RootName = keyof typeof ROOTS;

type Outcome = 'ok' | AssertionErrorCode;

/** Expected outcomes from the README, per file, per assertion in the file. */
const SNAPD_EXPECTED: Record<string, { root: RootName; outcomes: Outcome[] }> = {
  'snapd/canonical/generic.account': { root: 'canonical', outcomes: ['ok'] },
  'snapd/canonical/generic-models.account-key': { root: 'canonical', outcomes: ['ok'] },
  'snapd/canonical/generic-classic.model': { root: 'canonical', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/valid-for-testing.account': { root: 'canonical', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/valid-for-testing.account-key': { root: 'canonical', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/test-snapd-account-key-rrP2xy.assert': { root: 'canonical', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/valid-for-testing-pc.model': { root: 'canonical', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/valid-for-testing-pc-20.model': { root: 'canonical', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/pc24-with-comps-signed.model': { root: 'canonical', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/classic-model.assert': { root: 'canonical', outcomes: ['ok'] },
  'snapd/nested-fde-on-classic/classic-model.assert': { root: 'canonical', outcomes: ['ok'] },
  'snapd/nested-fde-on-classic/model-etc': { root: 'canonical', outcomes: ['ok', 'ok', 'ok'] },
  'snapd/tests-lib-assertions/auto-import.assert': { root: 'canonical', outcomes: ['ok', 'ok', 'ERR_KEY_UNKNOWN'] },
  'snapd/tests-lib-assertions/pc-production.model': { root: 'canonical', outcomes: ['ERR_KEY_UNKNOWN'] },
  'snapd/tests-lib-assertions/ubuntu-core-20-amd64.model': { root: 'canonical', outcomes: ['ERR_KEY_UNKNOWN'] },
  'snapd/tests-lib-assertions/ubuntu-core-22-amd64.model': { root: 'canonical', outcomes: ['ERR_KEY_UNKNOWN'] },
  'snapd/tests-lib-assertions/ubuntu-core-24-amd64.model': { root: 'canonical', outcomes: ['ERR_KEY_UNKNOWN'] },
  'snapd/tests-lib-assertions/valid-for-testing-pc-24.model': { root: 'canonical', outcomes: ['ERR_KEY_UNKNOWN'] },
  'snapd/tests-lib-assertions/pi2.model': { root: 'canonical', outcomes: ['ERR_KEY_UNKNOWN'] },
  'snapd/tests-lib-assertions/nested-amd64.model': { root: 'canonical', outcomes: ['ERR_KEY_UNKNOWN'] },
  'snapd/tests-lib-assertions/nested-20-amd64.model': { root: 'canonical', outcomes: ['ERR_KEY_UNKNOWN'] },
  'snapd/testrootorg/testrootorg-store.account-key': { root: 'testrootorg', outcomes: ['ok'] },
  'snapd/testrootorg/testrootorg-repair-root.account-key': { root: 'testrootorg', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/testrootorg-store.account-key': { root: 'testrootorg', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/developer1.account': { root: 'testrootorg', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/developer1.account-key': { root: 'testrootorg', outcomes: ['ok'] },
  'snapd/tests-lib-assertions/fake.store': { root: 'testrootorg', outcomes: ['ok'] },
  'snapd/from-go-tests/testrootorg-uc20.serial': { root: 'testrootorg', outcomes: ['ok'] },
  'snapd/from-go-tests/my-brand-small-key.serial': { root: 'testrootorg', outcomes: ['ERR_KEY_UNKNOWN'] },
};
/** "every developer1 model verifies" with the testrootorg root. */
const DEVELOPER1_MODEL = /^snapd\/tests-lib-assertions\/developer1-.*\.model$/;

/** Why each negative vector is refused (README), as code and the words of the reason. */
const NEGATIVE_EXPECTED: Record<string, { code: AssertionErrorCode; message: RegExp }> = {
  'generated/negative/sig-altered.serial': { code: 'ERR_SIGNATURE_INVALID', message: /failed signature verification/ },
  'generated/negative/content-altered.serial': { code: 'ERR_SIGNATURE_INVALID', message: /failed signature verification/ },
  'generated/negative/devkeyid-mismatch.serial': {
    code: 'ERR_HEADER_MISMATCH',
    message: /device key does not match the provided key id/,
  },
  'generated/negative/unknown-signing-key.serial': {
    code: 'ERR_KEY_UNKNOWN',
    message: /no matching public key "[^"]+" for signature by "test-brand"/,
  },
  'generated/negative/authority-not-allowed.serial': {
    code: 'ERR_AUTHORITY_NOT_ALLOWED',
    message: /authority "test-vault" different from brand "test-brand" is not allowed/,
  },
  'generated/store/negative/undelegated-provenance.snap-revision': {
    code: 'ERR_AUTHORITY_NOT_ALLOWED',
    message: /snap-revision assertion with provenance "test-prov-2" for snap id "[^"]+" is not signed by an authorized authority: "test-brand"/,
  },
  'generated/store/negative/brand-signed-global-upload.snap-revision': {
    code: 'ERR_AUTHORITY_NOT_ALLOWED',
    message: /snap-revision assertion for snap id "[^"]+" is not signed by a store: "test-brand"/,
  },
  'generated/negative/body-length-mismatch.serial': {
    code: 'ERR_ASSERTION_SYNTAX',
    message: /missing content\/signature separator/,
  },
};

/** Variants whose header order is deliberately not snapd's canonical order. */
const NON_CANONICAL = new Set(['generated/variants/header-order-changed.serial']);

const files = vectorFiles();
const isNegative = (f: string) => f.split('/').includes('negative');
const good = files.filter((f) => !isNegative(f));

function decodeAll(paths: readonly string[]): Assertion[] {
  return paths.flatMap((p) => decodeVector(p));
}

const sameRef = (a: Assertion, b: Assertion) => a.type === b.type && a.ref === b.ref && a.spec.primaryKey.length > 0;

/**
 * Adds `subject` in one batch with every other good vector of its group as
 * possible prerequisites (in the order they come), on a fresh database
 * trusting `root`, and returns each subject assertion's outcome.
 */
function outcomes(subject: string, group: readonly string[], root: RootName): Outcome[] {
  const db = new TrustDatabase({ trusted: roots(...ROOTS[root]) });
  const mine = decodeVector(subject);
  const others = decodeAll(group.filter((f) => f !== subject)).filter((o) => !mine.some((m) => sameRef(m, o)));
  const results = db.addBatch([...others, ...mine]);
  return results.slice(others.length).map((r) => (r.error ? r.error.code : 'ok'));
}

describe('every vector', () => {
  it('is found in the shared folder', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  describe.each(good)('%s', (file) => {
    it('decodes and re-encodes byte for byte', () => {
      const data = readVector(file);
      const assertions = decodeStream(data);
      expect(assertions.length).toBeGreaterThan(0);
      expect(encodeStream(assertions).equals(data)).toBe(true);
    });

    it(NON_CANONICAL.has(file) ? 'has non-canonical header order' : 'has canonical content', () => {
      for (const a of decodeVector(file)) expect(isCanonical(a)).toBe(!NON_CANONICAL.has(file));
    });
  });
});

describe('generated vectors with test-root trusted', () => {
  const group = good.filter((f) => f.startsWith('generated/'));
  it.each(group)('%s verifies', (file) => {
    const result = outcomes(file, group, 'test-root');
    expect(result.every((o) => o === 'ok'), `outcomes: ${result.join(', ')}`).toBe(true);
  });

  it('the offline serial stream verifies in stream order only as a batch', () => {
    const db = new TrustDatabase({ trusted: roots(...ROOTS['test-root']) });
    const [serial] = decodeVector('generated/uc16-serial-stream.assert');
    expect(db.check(serial as Assertion)).toMatchObject({ ok: false, error: { code: 'ERR_KEY_UNKNOWN' } });
    const results = db.addBatch(decodeVector('generated/uc16-serial-stream.assert'));
    expect(results.map((r) => r.error?.code)).toEqual([undefined, undefined, undefined]);
  });
});

describe('negative vectors are refused with the README reason', () => {
  const group = good.filter((f) => f.startsWith('generated/'));
  it.each(files.filter(isNegative))('%s', (file) => {
    let error: unknown;
    try {
      const db = new TrustDatabase({ trusted: roots(...ROOTS['test-root']) });
      const mine = decodeVector(file);
      const others = decodeAll(group).filter((o) => !mine.some((m) => sameRef(m, o)));
      const results = db.addBatch([...others, ...mine]);
      error = results.slice(others.length).find((r) => r.error)?.error;
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AssertionError);
    const expected = NEGATIVE_EXPECTED[file];
    expect(expected, 'every negative vector has its README reason here').toBeDefined();
    expect((error as AssertionError).code).toBe(expected?.code);
    expect((error as AssertionError).message).toMatch(expected?.message ?? /^$/);
  });
});

describe('snapd vectors against their roots', () => {
  const group = good.filter((f) => f.startsWith('snapd/'));
  const expectations = group.flatMap((file) => {
    const table = SNAPD_EXPECTED[file];
    if (table) return [{ file, ...table }];
    if (DEVELOPER1_MODEL.test(file)) return [{ file, root: 'testrootorg' as RootName, outcomes: ['ok' as Outcome] }];
    return [];
  });

  it('covers every file the README names', () => {
    expect(expectations.length).toBeGreaterThanOrEqual(Object.keys(SNAPD_EXPECTED).length);
  });

  it.each(expectations)('$file with the $root root', ({ file, root, outcomes: expected }) => {
    expect(outcomes(file, group, root)).toEqual(expected);
  });
});
