import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Model generation and float64 reference runs are slow on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Separate processes: native addons and process.stderr spies stay per file.
    pool: 'forks',
  },
});
