// The report a release manager opens: a real run with one failing gate, rendered by the Allure 3 CLI,
// opened in headless Chromium (Debian's), which must show the gate and its classification.
import { describe, test, expect, beforeAll } from 'vitest'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { spawnSync } from 'node:child_process'
import { renderReport } from '../../bin/report.ts'
import { ROOT, envUp, runGates } from './_run.ts'

const CHROMIUM = '/usr/bin/chromium'

function ensureChromium(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined
  if (process.getuid?.() !== 0) return 'Debian chromium is not installed and we are not root to install it'
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env })
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env })
  return r.status === 0 && existsSync(CHROMIUM) ? undefined : 'apt-get install chromium failed'
}

const skipReason = ensureChromium()
if (skipReason) console.log(`report browser test skipped: ${skipReason}`)

describe.skipIf(Boolean(skipReason))('Allure report in headless Chromium', { timeout: 300_000 }, () => {
  let index: string
  beforeAll(async () => {
    envUp([])
    // a profile whose "unknown id" path answers 200: smoke-404 fails with SMOKE_FAILED, for real
    const dir = mkdtempSync(join(tmpdir(), 'report-'))
    const profile = join(dir, 'broken-404.yaml')
    writeFileSync(profile, readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8').replace('txPath: /admin/tx/{tx_id}', 'txPath: /health?tx={tx_id}'))
    const r = runGates(['--tag', 'smoke-404', '--tag', 'baseline', '--tags-filter', 'closeout', '--target', profile])
    expect(r.summary.gates.find((g) => g.id === 'smoke-404')).toMatchObject({ status: 'failed', classification: 'SMOKE_FAILED' })
    // JUnit for CI test tabs: one testcase per gate, the classification in the failure message
    const junit = readFileSync(join(ROOT, 'reports', 'junit.xml'), 'utf8')
    expect(junit.match(/<testcase /g)?.length).toBe(2)
    expect(junit).toMatch(/<testcase[^>]*name="smoke-404: returns 404 for an unknown tx id"[^>]*>\s*<failure message="\[SMOKE_FAILED\]/)
    index = await renderReport({ outDir: join(ROOT, 'reports', 'report-check'), singleFile: true })
  })

  test('the page lists the gate, and the Categories tab shows its classification', async () => {
    const { chromium } = await import('playwright-core')
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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
      const list = await bodyWith('smoke-404: returns 404 for an unknown tx id')
      expect(list).toContain('baseline:')
      expect(list).toMatch(/Broken\s+1/)
      await page.getByText('Categories', { exact: false }).first().click()
      const categories = await bodyWith('SMOKE_FAILED')
      await page.screenshot({ path: join(ROOT, 'reports', 'report-screenshot.png') })
      expect(categories).toMatch(/SMOKE_FAILED\s+1/)
    } finally {
      await browser.close()
    }
  })
})
