import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources (the "@netmachine/source" export condition),
// so no build is needed before `vitest run`.
export default defineConfig({
  resolve: { conditions: ['@netmachine/source'] },
  ssr: { resolve: { conditions: ['@netmachine/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'tooling/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
    // expect.poll waits for a condition that must come true; the timeout only guards against a hang
    // on a loaded machine, it is not a timing assertion.
    expect: { poll: { timeout: 20_000, interval: 5 } },
  },
});
