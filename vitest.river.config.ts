import { defineConfig } from 'vitest/config';

/**
 * `npm run test:river`: Eddy against the real Go River and River UI (test/river-interop). Needs
 * Go ≥ 1.26 (modules through the proxy) and, for River UI, Chromium; `npm test` needs neither.
 * The Go binaries are built once per run by the global setup.
 */
export default defineConfig({
  test: {
    include: ['test/river-interop/**/*.test.ts'],
    globalSetup: ['test/river-interop/support/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Go River, River UI, Chromium and the mixed fleet share two cores: one file at a time.
    fileParallelism: false,
  },
});
