import { defineConfig } from 'vitest/config';

// Workers load the compiled JavaScript in dist/ (Node 20 cannot run TypeScript),
// so `npm test` builds first (the pretest script) and tests import the sources.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Multi-worker stress tests already use both cores; running files in parallel
    // would only add scheduler noise to them.
    fileParallelism: false,
  },
});
