// The project's own tests (unit + end-to-end against the local environment). Not the gates.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/bench/**', 'node_modules/**'],
    // one shared local environment and 2 cores: files run one after another
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', ['junit', { outputFile: 'reports/selftest/junit.xml' }]],
  },
})
