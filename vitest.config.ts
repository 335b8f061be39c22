import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'adapters/**/*.test.ts'],
    // Go River and River UI: `npm run test:river` (vitest.river.config.ts), which needs Go.
    exclude: [...configDefaults.exclude, 'test/river-interop/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Test files share one PostgreSQL; each works in its own schema or database.
    fileParallelism: true,
  },
});
