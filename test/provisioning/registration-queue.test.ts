import { describe, expect, it } from 'vitest';
import { ProvisioningError } from '../../src/provisioning/errors.js';
import { PENDING, RegistrationQueue } from '../../src/provisioning/registration-queue.js';

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));
const keepRefusals = (e: unknown) => e instanceof ProvisioningError && e.code !== 'ERR_TEMPORARILY_UNAVAILABLE';

describe('the registration queue', () => {
  it('answers within the wait, or PENDING while the work goes on; the re-post gets its answer and the work ran once', async () => {
    const q = new RegistrationQueue<string>({ max: 10, answerWithinMs: 20, keepAnswersMs: 60_000 }, keepRefusals);
    let runs = 0;
    // The work ends when the test says, not on a timer: a loaded machine must not finish it before the second wait is over.
    let finish: (serial: string) => void = () => undefined;
    const work = () => {
      runs++;
      return new Promise<string>((r) => (finish = r));
    };
    expect(await q.run('a', work)).toBe(PENDING);
    expect(q.depth).toBe(1);
    expect(await q.run('a', work)).toBe(PENDING);
    finish('serial');
    await later(1, null);
    expect(await q.run('a', work)).toBe('serial');
    expect(runs).toBe(1);
    expect(await q.run('fast', () => later(1, 'quick'))).toBe('quick');
  });

  it('keeps the refusal a late job ended in for its re-post, but not a fault that may pass', async () => {
    const q = new RegistrationQueue<string>({ max: 10, answerWithinMs: 10, keepAnswersMs: 60_000 }, keepRefusals);
    // Each job fails when the test says, after its caller was told PENDING.
    let fail: (e: Error) => void = () => undefined;
    const failing = () => new Promise<string>((_, reject) => (fail = reject));
    expect(await q.run('r', failing)).toBe(PENDING);
    fail(new ProvisioningError('ERR_QUOTA_EXCEEDED', 'full'));
    await later(1, null);
    await expect(q.run('r', () => later(1, 'never'))).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
    expect(await q.run('f', failing)).toBe(PENDING);
    fail(new ProvisioningError('ERR_TEMPORARILY_UNAVAILABLE', 'hsm away'));
    await later(1, null);
    expect(await q.run('f', () => later(1, 'second try'))).toBe('second try');
  });

  it('refuses past its bound with a fault the device retries, and forgets kept answers after their lifetime', async () => {
    let now = 0;
    const q = new RegistrationQueue<string>({ max: 1, answerWithinMs: 5, keepAnswersMs: 1000 }, keepRefusals, () => now);
    expect(await q.run('a', () => later(30, 'one'))).toBe(PENDING);
    await expect(q.run('b', () => later(1, 'two'))).rejects.toMatchObject({ code: 'ERR_QUEUE_FULL' });
    await later(40, null);
    now = 2000;
    expect(await q.run('a', () => later(1, 'again'))).toBe('again');
  });
});
