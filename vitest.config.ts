// The gates: specs/**/*.spec.ts, run one file after another in runbook order (needs are sequential).
// Tags (strictTags): suites, one per gate id, one per classification — generated from the specs.
import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'
import { pathToFileURL, fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('.', import.meta.url))
// native import (not bundled into the config) so specs and helpers share one module graph
const catalogModule = (await import(/* @vite-ignore */ pathToFileURL(`${root}helpers/catalog.ts`).href)) as typeof import('./helpers/catalog.ts')
const catalog = await catalogModule.loadCatalog(root)
const order = catalogModule.specFiles(root)

class RunbookOrderSequencer extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = order.indexOf(f.moduleId)
      return i === -1 ? Number.MAX_SAFE_INTEGER : i
    }
    return [...files].sort((a, b) => rank(a) - rank(b))
  }
  async shard(files: TestSpecification[]): Promise<TestSpecification[]> {
    return files
  }
}

const reports = process.env.CLOSEOUT_REPORTS_DIR || `${root}reports`
// the image's /app (node_modules included) is read-only: its Dockerfile points the caches to /tmp
const cacheBase = process.env.CLOSEOUT_CACHE_DIR

export default defineConfig({
  ...(cacheBase ? { cacheDir: `${cacheBase}/vite` } : {}),
  test: {
    root,
    ...(cacheBase ? { fsModuleCachePath: `${cacheBase}/vitest-modules` } : {}),
    include: ['specs/**/*.spec.ts'],
    tags: catalogModule.tagDefinitions(catalog),
    strictTags: true,
    fileParallelism: false,
    // one worker, modules shared across spec files: the harness (kube client, port-forward) is built once
    isolate: false,
    sequence: { sequencer: RunbookOrderSequencer, concurrent: false, shuffle: false },
    testTimeout: 300_000,
    hookTimeout: 120_000,
    retry: 0,
    reporters: [
      'default',
      ['junit', { outputFile: `${reports}/junit.xml`, suiteName: 'closeout', classnameTemplate: '{filename}' }],
      [
        'allure-vitest/reporter',
        {
          resultsDir: `${reports}/allure-results`,
          reportMatchers: false,
          environmentInfo: {
            target: process.env.CLOSEOUT_TARGET_NAME ?? '',
            target_file: process.env.CLOSEOUT_TARGET ?? '',
            cluster_context: process.env.CLOSEOUT_CONTEXT ?? '',
            namespace: process.env.CLOSEOUT_NAMESPACE ?? '',
            run_id: process.env.CLOSEOUT_RUN_ID ?? '',
            git_commit: process.env.CLOSEOUT_GIT_COMMIT ?? '',
            operator: process.env.CLOSEOUT_OPERATOR ?? '',
            node: process.version,
          },
        },
      ],
      `${root}helpers/reporter.ts`,
    ],
  },
})
