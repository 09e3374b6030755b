// The report a release manager opens: a real run with one failing gate (smoke-404 → SMOKE_FAILED),
// rendered by the Allure 3 CLI through ./closeout report's renderReport, then opened in headless
// Chromium (Debian's, driven by playwright-core, no browser download), which must show the gate and
// its classification. Renders go to throwaway dirs with a throwaway history file, so the operator's
// reports/allure-report and trend stay untouched; the screenshot lands in reports/report-screenshot.png.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { UsageError } from '../../bin/_cli.ts'
import { allureCategories, NoResultsError, parseReportArgs, renderReport } from '../../bin/report.ts'
import { CLASSIFICATIONS } from '../../helpers/classification.ts'
import { envUp, node, ROOT, runGates } from './_run.ts'

const CHROMIUM = '/usr/bin/chromium'
const GATE = 'smoke-404: returns 404 for an unknown tx id'

function ensureChromium(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined
  if (process.getuid?.() !== 0) return 'Debian chromium is not installed and we are not root to install it (apt-get install -y chromium)'
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env })
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env })
  return r.status === 0 && existsSync(CHROMIUM) ? undefined : 'apt-get install chromium failed (no package mirror reachable?)'
}

const work = mkdtempSync(join(tmpdir(), 'closeout-report-'))
const results = join(work, 'allure-results')
const history = join(work, 'allure-history.jsonl')
const RUN_ID = `report-test-${process.pid}`

/** A throwaway project run by vitest + allure-vitest, shaped like a gate run: one passing gate, one
 * failing with a classified message (as helpers/gate.ts throws it), one skipped as blocked. */
function throwawayResults(): void {
  const proj = join(work, 'proj')
  mkdirSync(proj, { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(proj, 'node_modules'))
  writeFileSync(
    join(proj, 'vitest.config.mjs'),
    `export default { test: { include: ['gates.test.mjs'], reporters: ['default', ['allure-vitest/reporter', { resultsDir: ${JSON.stringify(results)},
      environmentInfo: { target: 'throwaway', cluster_context: 'ctx-1', namespace: 'txlookup', run_id: ${JSON.stringify(RUN_ID)}, git_commit: 'abc1234', operator: 'report-test' } }]] } }\n`,
  )
  writeFileSync(
    join(proj, 'gates.test.mjs'),
    `import { test, describe } from 'vitest'
import * as allure from 'allure-js-commons'
describe('F3-4 runtime closeout', () => {
  test('baseline: the namespace, the API deployment and service are visible', async () => { await allure.tags('closeout', 'baseline') })
  test(${JSON.stringify(GATE)}, async () => {
    await allure.tags('closeout', 'smoke-404', 'SMOKE_FAILED'); await allure.label('classification', 'SMOKE_FAILED')
    throw new Error('[SMOKE_FAILED] GET /admin/tx/tx-missing answered 200, expected 404 for an unknown tx id')
  })
  test('smoke-200: returns 200 for the latest tx id in the ledger', (ctx) => { ctx.skip('blocked by smoke-404 (SMOKE_FAILED)') })
})\n`,
  )
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'vitest.config.mjs'], {
    cwd: proj,
    encoding: 'utf8',
    timeout: 120_000,
  })
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(1) // one failing test
  expect(readdirSync(results).filter((f) => f.endsWith('-result.json'))).toHaveLength(3)
}

describe('./closeout report', { timeout: 300_000 }, () => {
  beforeAll(() => throwawayResults())

  test('no results: exit 3 with the hint; a results dir without results is a NoResultsError too', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'closeout-noresults-'))
    const r = node(['bin/report.ts'], { CLOSEOUT_REPORTS_DIR: empty })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('no results yet: run ./closeout test --tag closeout first')
    mkdirSync(join(empty, 'allure-results'))
    await expect(renderReport({ resultsDir: join(empty, 'allure-results'), outDir: join(empty, 'out') })).rejects.toBeInstanceOf(
      NoResultsError,
    )
    expect(node(['bin/report.ts', '--nope']).code).toBe(3)
    expect(node(['bin/report.ts', '--port', '8080']).stderr).toContain('--port only goes with --open')
    expect(parseReportArgs(['--single-file', '--open', '--port', '8080'])).toEqual({ singleFile: true, open: true, port: 8080 })
    expect(() => parseReportArgs(['--open', '--port', 'x'])).toThrow(UsageError)
  })

  test('categories = classifications (+ BLOCKED), written to the results dir; environment and history in the report', async () => {
    const out = join(work, 'report-dir')
    const index = await renderReport({ resultsDir: results, outDir: out, historyPath: history })
    expect(existsSync(index)).toBe(true)
    const written = JSON.parse(readFileSync(join(results, 'categories.json'), 'utf8')) as { name: string; messageRegex?: string }[]
    expect(written.map((c) => c.name)).toEqual([...CLASSIFICATIONS, 'BLOCKED'])
    expect(written).toEqual(JSON.parse(JSON.stringify(allureCategories())))
    const smoke = written.find((c) => c.name === 'SMOKE_FAILED')!
    expect(new RegExp(smoke.messageRegex!).test('[SMOKE_FAILED] GET /x answered 200, expected 404')).toBe(true)
    expect(new RegExp(smoke.messageRegex!).test('[STARTUP_FAILED] SMOKE_FAILED mentioned later')).toBe(false)
    // the Awesome report grouped the failing gate under SMOKE_FAILED
    const cats = readFileSync(join(out, 'widgets', 'categories.json'), 'utf8')
    expect(cats).toMatch(/"name":"SMOKE_FAILED","statistic":\{"total":1/)
    // environment: target, cluster context, namespace, run id, git commit, operator
    const env = JSON.parse(readFileSync(join(out, 'widgets', 'allure_environment.json'), 'utf8')) as { name: string; values: string[] }[]
    const envMap = Object.fromEntries(env.map((e) => [e.name, e.values[0]]))
    expect(Object.keys(envMap)).toEqual(
      expect.arrayContaining(['target', 'cluster_context', 'namespace', 'run_id', 'git_commit', 'operator']),
    )
    expect(envMap.run_id).toBe(RUN_ID)
    // history: one entry per render, capped by CLOSEOUT_HISTORY_LIMIT
    await renderReport({ resultsDir: results, outDir: out, historyPath: history })
    expect(readFileSync(history, 'utf8').trim().split('\n')).toHaveLength(2)
  })

  const skipReason = ensureChromium()
  if (skipReason) console.log(`report browser test skipped: ${skipReason}`)

  test.skipIf(Boolean(skipReason))(
    'headless Chromium: the page lists the gate; the Categories tab shows SMOKE_FAILED with the gate under it',
    async () => {
      const index = await renderReport({
        resultsDir: results,
        outDir: join(work, 'single-file'),
        singleFile: true,
        historyPath: join(work, 'h2.jsonl'),
      })
      const { chromium } = await import('playwright-core')
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        // the machine notes' flags (playwright adds --headless and a fresh user-data-dir itself)
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
        await page.goto(`file://${index}`)
        const bodyWith = async (text: string) => {
          const until = Date.now() + 40_000
          let reloaded = false
          while (Date.now() < until) {
            const body = await page.innerText('body')
            if (body.replace(/\s+/g, ' ').includes(text)) return body
            // a 3.7 MB single-file report can come up with an empty tree on a loaded machine: reload once
            if (!reloaded && Date.now() > until - 25_000) {
              reloaded = true
              await page.reload()
            }
            await page.waitForTimeout(250)
          }
          throw new Error(`the report page never showed "${text}"`)
        }
        const list = await bodyWith(GATE)
        expect(list).toContain('baseline:')
        expect(list).toMatch(/Broken\s+1/)
        expect(list).toMatch(/Skipped\s+1/)
        await page.getByText('Categories', { exact: false }).first().click()
        const categories = await bodyWith('SMOKE_FAILED')
        expect(categories).toMatch(/SMOKE_FAILED\s+1/)
        // expand the category: the gate is listed under its classification (and the screenshot shows both)
        await page.getByText('SMOKE_FAILED', { exact: true }).first().click()
        const expanded = await bodyWith(GATE)
        expect(expanded.indexOf('SMOKE_FAILED')).toBeLessThan(expanded.indexOf(GATE))
        mkdirSync(join(ROOT, 'reports'), { recursive: true })
        await page.screenshot({ path: join(ROOT, 'reports', 'report-screenshot.png') })
      } finally {
        await browser.close()
      }
    },
  )
})

// JUnit for CI test tabs (PublishTestResults@2, GitHub test reporters): a real gate run against the
// local environment gives one testcase per gate with the classification in the failure message.
describe('reports/junit.xml from a real run', { timeout: 300_000 }, () => {
  test('one testcase per gate; the failure message starts with the classification', () => {
    envUp([])
    const profile = join(work, 'broken-404.yaml')
    writeFileSync(
      profile,
      readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8').replace('txPath: /admin/tx/{tx_id}', 'txPath: /health?tx={tx_id}'),
    )
    const r = runGates(['--tag', 'smoke-404', '--tag', 'baseline', '--tags-filter', 'closeout', '--target', profile])
    expect(r.summary.gates.find((g) => g.id === 'smoke-404')).toMatchObject({ status: 'failed', classification: 'SMOKE_FAILED' })
    const junit = readFileSync(join(ROOT, 'reports', 'junit.xml'), 'utf8')
    expect(junit.match(/<testcase /g)?.length).toBe(2)
    expect(junit).toMatch(/<testcase[^>]*name="smoke-404: returns 404 for an unknown tx id"[^>]*>\s*<failure message="\[SMOKE_FAILED\]/)
  })
})
