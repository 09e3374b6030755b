// ./closeout report [--single-file]: render reports/allure-report from reports/allure-results with the
// Allure 3 CLI (npm `allure`, no Java). --single-file: one self-contained index.html for mail/tickets.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync, rmSync } from 'node:fs'
import { join, resolve, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

export interface RenderOptions {
  resultsDir?: string
  outDir?: string
  singleFile?: boolean
}

export class NoResultsError extends Error {}

export async function renderReport(o: RenderOptions = {}): Promise<string> {
  const results = resolve(o.resultsDir ?? join(ROOT, 'reports', 'allure-results'))
  const out = resolve(o.outDir ?? join(ROOT, 'reports', 'allure-report'))
  if (!existsSync(results) || !readdirSync(results).some((f) => f.endsWith('-result.json'))) {
    throw new NoResultsError(`no results yet in ${relative(ROOT, results) || results}: run ./closeout test --tag closeout first`)
  }
  // the results-directory categories.json (honoured by the allure2/classic renderers and other tools)
  const { categories } = (await import(join(ROOT, 'helpers', 'allure-categories.mjs'))) as { categories: unknown[] }
  writeFileSync(join(results, 'categories.json'), JSON.stringify(categories, null, 2))
  rmSync(out, { recursive: true, force: true })
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'allure', 'cli.js'), 'generate', results, '--config', join(ROOT, 'allurerc.mjs'), '-o', out], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CLOSEOUT_SINGLE_FILE: o.singleFile ? '1' : '' },
    timeout: 300_000,
  })
  if (r.status !== 0) throw new Error(`allure generate failed (exit ${r.status}): ${(r.stderr || r.stdout).slice(-800)}`)
  return join(out, 'index.html')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const singleFile = process.argv.includes('--single-file')
  renderReport({ singleFile }).then(
    (index) => {
      process.stdout.write(`report: ${relative(ROOT, index)}${singleFile ? ' (single self-contained file)' : ''}\n`)
      process.exit(0)
    },
    (e: unknown) => {
      process.stderr.write(`closeout report: ${(e as Error).message}\n`)
      process.exit(e instanceof NoResultsError ? 3 : 1)
    },
  )
}
