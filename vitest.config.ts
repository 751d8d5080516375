import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';
import { WxtVitest } from 'wxt/testing/vitest-plugin';

export default defineConfig({
  test: {
    projects: [
      {
        // The unit project mounts .vue components, so it needs the Vue SFC compiler as a Vite plugin.
        plugins: [vue(), WxtVitest()],
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'happy-dom',
          globals: true,
          testTimeout: 30_000,
          // Generating Argon2-protected keys in beforeAll takes seconds on a busy two-core machine.
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [WxtVitest()],
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          globals: true,
          globalSetup: ['tests/helpers/party-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          globals: true,
          globalSetup: ['tests/helpers/party-global-setup.ts', 'tests/helpers/build-global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
