import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // HSM and database suites start real processes and tokens; give them room
    // on a 2-core CI machine without letting a hung test stall the run.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two at a time even on two cores (vitest's default there is one): most
    // files wait on child processes, sockets and timers, not on the CPU.
    maxWorkers: 2,
    // Loopback only: a test that reaches further fails at once (test/support/no-network.ts).
    setupFiles: ['test/support/no-network.ts'],
  },
});
