// The gates: specs/**/*.spec.ts, run one file after another in runbook order (needs are sequential).
// Tags (strictTags): suites, one per gate id, one per classification — generated from the specs.

import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

const root = fileURLToPath(new URL('.', import.meta.url))
// native import (not bundled into the config) so specs and helpers share one module graph
const catalogModule = (await import(
  /* @vite-ignore */ pathToFileURL(`${root}helpers/catalog.ts`).href
)) as typeof import('./helpers/catalog.ts')
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
// the run, as bin/test.ts resolved it (run.json is the one channel; nothing else comes through env)
const runState = (await import(
  /* @vite-ignore */ pathToFileURL(`${root}helpers/run-state.ts`).href
)) as typeof import('./helpers/run-state.ts')
const runFile = runState.runFileFromEnv()
const run =
  runFile && existsSync(runFile) ? (JSON.parse(readFileSync(runFile, 'utf8')) as import('./helpers/run-state.ts').RunInfo) : undefined

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
            target: run?.target.name ?? '',
            target_file: run?.target.file ?? '',
            cluster_context: run?.target.context ?? '',
            namespace: run?.target.namespace ?? '',
            run_id: run?.runId ?? '',
            git_commit: run?.gitCommit ?? '',
            operator: run?.operator ?? '',
            node: process.version,
          },
        },
      ],
    ],
  },
})
