import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Runs `fn` repeatedly for about `seconds` and returns operations per second. */
export async function rate(fn: () => unknown, seconds: number): Promise<number> {
  // Warm up the JIT and caches so the first calls do not count.
  for (let i = 0; i < 20; i++) await fn();
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < end) {
    await fn();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

/**
 * Measures several rates in alternating rounds and returns each one's median,
 * so a slow moment of a shared machine does not land on one figure only.
 */
export async function interleavedRates(
  fns: Readonly<Record<string, () => unknown>>,
  seconds: number,
  rounds = 5,
): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) samples[name]!.push(await rate(fn, seconds / rounds));
  }
  return Object.fromEntries(
    Object.entries(samples).map(([k, xs]) => [k, xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number]),
  );
}

/** Runs `n` calls of `fn` with at most `concurrency` in flight and returns operations per second. */
export async function concurrentRate(fn: () => Promise<unknown>, n: number, concurrency: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        await fn();
      }
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

/** Keeps `concurrency` calls of `fn` in flight for about `seconds`; returns completions per second. */
export async function timedRate(fn: () => Promise<unknown>, seconds: number, concurrency: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await fn();
        n++;
      }
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

export function loopDelay(): { stop: () => { p99: number; max: number } } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return {
    stop: () => {
      h.disable();
      return { p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
    },
  };
}

export const fmt = (x: number, digits = 1) => x.toFixed(digits);
