// CTRF, JUnit properties, Allure first page, runbook coverage, comparison and since-last-GO.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runDiff } from '../../bin/diff.ts'
import { loadCatalog } from '../../helpers/catalog.ts'
import { type CompareSummary, compareRuns, findLastGo, loadRun, sinceLastGo } from '../../helpers/compare.ts'
import { buildCtrf, injectJunitProperties, junitProperties, type ReportSummary, writeAllureDecision } from '../../helpers/ctrf.ts'
import { coverageRows, coverageTable, RUNBOOK_STEPS, runbookStepsOf } from '../../helpers/runbook-steps.ts'

const gate = (id: string, status: string, classification: string | null = null, durationMs = 100) => ({
  id,
  suite: 'closeout',
  status,
  classification,
  reason: classification ? `${id} broke` : null,
  durationMs,
  evidence: null,
})
const nogo: ReportSummary = {
  suite: 'closeout',
  runId: '20261201_130000',
  target: 'local (fixtures/targets/local.yaml)',
  startedAt: '2026-12-01T13:00:00.000Z',
  finishedAt: '2026-12-01T13:00:04.000Z',
  decision: 'NO_GO',
  gates: [
    gate('baseline', 'passed'),
    gate('smoke-200', 'failed', 'SMOKE_FAILED'),
    gate('consumer-lag', 'blocked', 'MONITORING_ACCESS_BLOCKED'),
    { ...gate('consumer-freshness', 'waived', 'FRESHNESS_SLO_BREACHED'), policy: { originalStatus: 'failed' } },
  ],
  classifications: ['SMOKE_FAILED', 'MONITORING_ACCESS_BLOCKED', 'FRESHNESS_SLO_BREACHED'],
  retry: {
    owner: 'release-engineering',
    retryAtUtc: '2026-12-01T17:00:00Z',
    unblockCriteria: ['SMOKE_FAILED: GET answers 200', 'MONITORING_ACCESS_BLOCKED: Log Analytics Reader'],
  },
  evidenceDir: '/tmp/x',
  waiversInForce: [
    {
      gate: 'consumer-freshness',
      classification: 'FRESHNESS_SLO_BREACHED',
      ticket: 'OPS-4711',
      owner: 'data-platform',
      expiresAt: '2026-12-31T00:00:00Z',
    },
  ],
  waiversExpired: [{ gate: 'smoke-404', classification: 'SMOKE_FAILED', ticket: 'OPS-1', owner: 'api', expiresAt: '2026-11-01T00:00:00Z' }],
  advisory: ['closeout/consumer-lag'],
}

describe('CTRF and the decision in JUnit / Allure', () => {
  it('CTRF: required fields, statuses in the enum, blocked and waived as "other" with rawStatus, the decision in extra', () => {
    const r = buildCtrf(nogo) as {
      reportFormat: string
      specVersion: string
      results: { summary: Record<string, number>; tests: Record<string, unknown>[]; environment: Record<string, unknown> }
      extra: Record<string, unknown>
    }
    expect(r.reportFormat).toBe('CTRF')
    expect(r.specVersion).toMatch(/^\d+\.\d+\.\d+$/)
    expect(Object.keys(r).sort()).toEqual(['extra', 'generatedBy', 'reportFormat', 'results', 'specVersion', 'timestamp'])
    expect(r.results.summary).toMatchObject({ tests: 4, passed: 1, failed: 1, skipped: 0, pending: 0, other: 2 })
    for (const t of r.results.tests) {
      expect(['passed', 'failed', 'skipped', 'pending', 'other']).toContain(t.status)
      expect(Number.isInteger(t.duration)).toBe(true)
      // the schema's additionalProperties: false on a test
      for (const k of Object.keys(t))
        expect(['name', 'status', 'rawStatus', 'duration', 'suite', 'message', 'tags', 'labels', 'attachments']).toContain(k)
    }
    expect(r.results.tests[2]).toMatchObject({
      status: 'other',
      rawStatus: 'blocked',
      message: '[MONITORING_ACCESS_BLOCKED] consumer-lag broke',
    })
    expect(r.results.tests[3]).toMatchObject({ status: 'other', rawStatus: 'waived (was failed)' })
    expect(r.results.tests[1].labels).toMatchObject({
      classification: 'SMOKE_FAILED',
      runbookStep: ['F3-4 Task 3 Step 2', 'F3-4 Task 3 Step 3'],
    })
    expect(r.extra).toMatchObject({ decision: 'NO_GO', classifications: nogo.classifications, retry: nogo.retry })
    expect(r.results.environment.healthy).toBe(false)
  })

  it('JUnit properties carry decision, classifications, retry and waivers; injected after <testsuites>', () => {
    const names = junitProperties(nogo).map((p) => p.name)
    expect(names).toEqual(
      expect.arrayContaining([
        'closeout.decision',
        'closeout.classifications',
        'closeout.retry.owner',
        'closeout.retry.retryAtUtc',
        'closeout.retry.unblock.1',
        'closeout.waiver.consumer-freshness',
        'closeout.waiverExpired.smoke-404',
      ]),
    )
    // the testcase of a waived / advisory gate still fails in vitest's JUnit: the property says it does not count
    expect(junitProperties(nogo)).toContainEqual({
      name: 'closeout.gate.closeout/consumer-freshness',
      value: 'waived (was failed): not counted in the decision',
    })
    const xml = '<?xml version="1.0"?>\n<testsuites name="closeout" tests="1">\n  <testsuite name="a"></testsuite>\n</testsuites>\n'
    const once = injectJunitProperties(xml, nogo)!
    expect(once).toMatch(
      /<testsuites name="closeout" tests="1">\n {2}<properties>\n {4}<property name="closeout.decision" value="NO_GO"\/>/,
    )
    expect(injectJunitProperties(once, nogo)).toBe(once) // idempotent: a second finalize does not duplicate
    expect(injectJunitProperties('<x/>', nogo)).toBeNull()
  })

  it('Allure: decision, classifications and retry in environment.properties (merged with allure-vitest lines) and executor.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'allure-'))
    writeFileSync(join(dir, 'environment.properties'), 'target=local\nrun_id=x\nDecision=GO\n')
    writeAllureDecision(nogo, dir)
    const env = readFileSync(join(dir, 'environment.properties'), 'utf8')
    expect(env.split('\n')[0]).toBe('Decision=NO_GO')
    expect(env).toContain('Classifications=SMOKE_FAILED, MONITORING_ACCESS_BLOCKED, FRESHNESS_SLO_BREACHED')
    expect(env).toContain('Retry\\ owner=release-engineering')
    expect(env).toContain('target=local')
    expect(env.match(/^Decision=/gm)).toHaveLength(1)
    expect(env).toContain('Waiver\\ consumer-freshness=FRESHNESS_SLO_BREACHED OPS-4711 until 2026-12-31T00:00:00Z')
    expect(env).toContain('Waiver\\ expired\\ smoke-404=SMOKE_FAILED OPS-1 expired 2026-11-01T00:00:00Z')
    expect(env).toContain('Advisory\\ (not\\ counted)=closeout/consumer-lag')
    writeAllureDecision(nogo, dir) // a second finalize replaces our lines, never duplicates them
    expect(readFileSync(join(dir, 'environment.properties'), 'utf8').match(/^Waiver\\ /gm)).toHaveLength(2)
    expect(JSON.parse(readFileSync(join(dir, 'executor.json'), 'utf8')).reportName).toBe(
      'closeout — NO_GO (SMOKE_FAILED, MONITORING_ACCESS_BLOCKED, FRESHNESS_SLO_BREACHED)',
    )
  })
})

describe('runbook traceability', () => {
  it('every gate of the catalogue names at least one runbook step (a new spec must be added to helpers/runbook-steps.ts)', async () => {
    const catalog = await loadCatalog(process.cwd())
    const missing = catalog.filter((g) => !runbookStepsOf(g.suite, g.id).length).map((g) => `${g.suite}/${g.id}`)
    expect(missing).toEqual([])
    const known = new Set(catalog.map((g) => `${g.suite}/${g.id}`))
    expect(RUNBOOK_STEPS.flatMap((s) => s.gates).filter((r) => !known.has(r))).toEqual([])
  })

  it('the coverage table maps step → gate → status and lists reviewer loops, roadmap and verification ladder as not automated', () => {
    const rows = coverageRows(nogo.gates)
    expect(rows).toContainEqual({ step: 'F3-4 Task 3 Step 2', title: expect.any(String), gate: 'closeout/smoke-200', status: 'FAILED' })
    expect(rows.filter((r) => r.status.startsWith('NOT AUTOMATED')).map((r) => r.step)).toEqual([
      'F3-4 Task 1 Step 3',
      'F3-4 Task 2 Step 5',
      'F3-4 Task 3 Step 4',
      'F3-4 Task 4 Step 3',
      'F3-4 Task 5 Step 2',
      'F3-4 Task 5 Step 3',
      'F3-4 Task 5 Step 4',
    ])
    expect(rows.find((r) => r.gate === 'closeout/consumer-db')?.status).toBe('NOT SELECTED')
    expect(rows.some((r) => r.step.startsWith('E2-3'))).toBe(false)
    expect(coverageTable(nogo.gates)).toMatch(/^## Runbook coverage/)
  })
})

/** A reports/ tree with runs and bundles as the finalizer leaves them. */
function makeRun(reports: string, s: CompareSummary, evidence: object[]): void {
  const bundle = join(reports, 'evidence', `${s.runId}_f3_4_runtime_closeout`)
  mkdirSync(bundle, { recursive: true })
  mkdirSync(join(reports, 'runs', s.runId), { recursive: true })
  const full = { ...s, bundles: { [s.suite]: bundle } }
  writeFileSync(join(bundle, 'summary.json'), JSON.stringify(full))
  writeFileSync(join(reports, 'runs', s.runId, 'summary.json'), JSON.stringify(full))
  writeFileSync(join(bundle, 'evidence.jsonl'), evidence.map((e) => JSON.stringify(e)).join('\n') + '\n')
}
const ev = (runId: string, freshness: number, latency: number, hash: string) => [
  {
    gate: 'consumer-freshness',
    suite: 'closeout',
    step: 'consumer freshness query',
    kind: 'query',
    durationMs: 10,
    details: { rows: [{ TimeGenerated: 't', max_freshness: freshness }] },
  },
  {
    gate: 'smoke-200',
    suite: 'closeout',
    step: `GET /admin/tx for ${runId}`,
    kind: 'http',
    durationMs: latency,
    details: { BODY_SHA256: hash, HTTP_CODE: '200' },
  },
]
const run = (runId: string, startedAt: string, decision: string, gates: CompareSummary['gates'], suite = 'closeout'): CompareSummary => ({
  suite,
  runId,
  target: 'local (fixtures/targets/local.yaml)',
  startedAt,
  decision,
  gates,
})

describe('comparison', () => {
  const reports = mkdtempSync(join(tmpdir(), 'reports-'))
  const root = join(reports, '..')
  process.env.CLOSEOUT_REPORTS_DIR = reports
  makeRun(
    reports,
    run('20261201_100000', '2026-12-01T10:00:00Z', 'GO', [
      gate('smoke-200', 'passed', null, 100),
      gate('consumer-freshness', 'passed', null, 50),
    ]),
    ev('20261201_100000', 0.6, 20, 'aaa'),
  )
  makeRun(
    reports,
    run('20261201_110000', '2026-12-01T11:00:00Z', 'NO_GO', [
      gate('smoke-200', 'passed', null, 900),
      gate('consumer-freshness', 'failed', 'FRESHNESS_SLO_BREACHED', 50),
    ]),
    ev('20261201_110000', 42, 700, 'bbb'),
  )

  it('diff names the changed gate, the regressed duration and latency, and the changed values', () => {
    const c = compareRuns(loadRun('20261201_100000', root), loadRun('20261201_110000', root))
    expect(c.gatesChanged).toEqual([{ gate: 'closeout/consumer-freshness', a: 'passed', b: 'failed (FRESHNESS_SLO_BREACHED)' }])
    expect(c.durationsRegressed).toEqual([
      { what: 'gate closeout/smoke-200', aMs: 100, bMs: 900 },
      { what: 'closeout/smoke-200 GET /admin/tx for {runId}', aMs: 20, bMs: 700 },
    ])
    expect(c.valuesChanged).toEqual([
      { key: 'closeout/consumer-freshness consumer freshness query: max(max_freshness)', a: '0.6', b: '42' },
      { key: 'closeout/smoke-200 GET /admin/tx for {runId}: BODY_SHA256', a: 'aaa', b: 'bbb' },
    ])
  })

  it('a duration within the threshold is not a regression', () => {
    const c = compareRuns(loadRun('20261201_100000', root), loadRun('20261201_110000', root), {
      durationThresholdPct: 5000,
      durationMinMs: 0,
    })
    expect(c.durationsRegressed).toEqual([])
  })

  it('closeout diff exits 1 on differences, 0 on none, 3 on an unknown run', () => {
    expect(runDiff(['20261201_100000', '20261201_110000'])).toBe(1)
    expect(runDiff(['20261201_100000', '20261201_100000'])).toBe(0)
    expect(runDiff(['20261201_100000', 'nope'])).toBe(3)
  })

  it('since the last GO: only GO runs of the same target are baselines; a closeout falls back to a rehearsal GO', () => {
    const now = run('20261201_120000', '2026-12-01T12:00:00Z', 'NO_GO', [gate('smoke-200', 'failed', 'SMOKE_FAILED')])
    // a later GO that ran only consumer-freshness (a one-gate run) is no baseline for a run with smoke-200
    makeRun(reports, run('20261201_105000', '2026-12-01T10:50:00Z', 'GO', [gate('consumer-freshness', 'passed')]), [])
    expect(findLastGo(reports, now)).toBe('20261201_100000') // not the later NO_GO, not the partial GO
    expect(sinceLastGo(reports, now)).toMatch(
      /## Since the last GO \(closeout 20261201_100000[\s\S]*closeout\/smoke-200 \| passed \| failed \(SMOKE_FAILED\)/,
    )
    expect(findLastGo(reports, { ...now, target: 'aks-dev (fixtures/targets/aks-dev.yaml)' })).toBeNull()
    const r2 = mkdtempSync(join(tmpdir(), 'reports-'))
    makeRun(
      r2,
      run('20261201_090000', '2026-12-01T09:00:00Z', 'GO', [{ ...gate('smoke-200', 'passed'), suite: 'rehearsal' }], 'rehearsal'),
      [],
    )
    expect(findLastGo(r2, now)).toBe('20261201_090000')
    expect(sinceLastGo(r2, { ...now, bundles: {} })).toMatch(
      /rehearsal 20261201_090000[\s\S]*\| smoke-200 \| passed \| failed \(SMOKE_FAILED\) \|/,
    )
  })
})
