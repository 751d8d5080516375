import { defineConfig } from 'vitest/config';
import { WxtVitest } from 'wxt/testing/vitest-plugin';

/**
 * `npm run bench`: the benchmark suite (bench/), kept apart from the tests. It measures, prints a table
 * and writes BENCHMARKS.md; it asserts no timing. One file, one worker, sections run one after another.
 */
export default defineConfig({
  plugins: [WxtVitest()],
  test: {
    include: ['bench/run.bench-suite.ts'],
    environment: 'node',
    globals: true,
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    disableConsoleIntercept: true,
  },
});
