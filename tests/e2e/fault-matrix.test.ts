// The proof of the product: against the local environment, no fault → GO for both suites with a
// complete, verifiable bundle; each fault alone → exactly its classifications, BLOCKED gates and
// exit code, and no other gate changes status.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { verifyManifest } from '../../helpers/bundle.ts'
import { envUp, outcome, ROOT, runGates, type SuiteRun } from './_run.ts'

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

const CLOSEOUT = [
  'baseline',
  'consumer-rollout',
  'consumer-db',
  'consumer-eventhubs',
  'smoke-404',
  'smoke-200',
  'consumer-lag',
  'consumer-freshness',
]
const REHEARSAL = ['precheck', 'migrate', 'backfill', 'sync-happy', 'smoke-200', 'smoke-404', 'idempotency']

function expected(all: string[], changed: Record<string, string>): Record<string, string> {
  return Object.fromEntries(all.map((g) => [g, changed[g] ?? 'passed']))
}

const allBlockedAfter = (all: string[], first: string): Record<string, string> =>
  Object.fromEntries(all.map((g) => [g, g === first ? 'blocked:ENVIRONMENT_BLOCKED' : 'blocked']))

/** The stop rules (helpers/suites.ts STOP_RULES): every gate after `at` in the list is BLOCKED, not run. */
const stoppedAfter = (all: string[], at: string, changed: Record<string, string>): Record<string, string> =>
  Object.fromEntries(all.map((g, i) => [g, changed[g] ?? (i > all.indexOf(at) ? 'blocked' : 'passed')]))
// F3-4 Task 2 failing or blocked stops the closeout: smoke and monitoring gates are BLOCKED
const TASK2_STOPS = ['smoke-404', 'smoke-200', 'consumer-lag', 'consumer-freshness']
const closeoutStopped = (changed: Record<string, string>) =>
  expected(CLOSEOUT, { ...Object.fromEntries(TASK2_STOPS.map((g) => [g, 'blocked'])), ...changed })

interface Case {
  fault: string
  suite: 'closeout' | 'rehearsal'
  target?: string
  exit: number
  gates: Record<string, string>
}

const CASES: Case[] = [
  { fault: 'namespace-missing', suite: 'closeout', exit: 2, gates: allBlockedAfter(CLOSEOUT, 'baseline') },
  { fault: 'namespace-missing', suite: 'rehearsal', exit: 2, gates: allBlockedAfter(REHEARSAL, 'precheck') },
  { fault: 'cluster-unauthorized', suite: 'closeout', exit: 2, gates: allBlockedAfter(CLOSEOUT, 'baseline') },
  { fault: 'cluster-unauthorized', suite: 'rehearsal', exit: 2, gates: allBlockedAfter(REHEARSAL, 'precheck') },
  {
    fault: 'consumer-crashloop',
    suite: 'closeout',
    exit: 1,
    gates: closeoutStopped({ 'consumer-rollout': 'failed:STARTUP_FAILED', 'consumer-db': 'blocked', 'consumer-eventhubs': 'blocked' }),
  },
  { fault: 'consumer-db-unreachable', suite: 'closeout', exit: 1, gates: closeoutStopped({ 'consumer-db': 'failed:STARTUP_FAILED' }) },
  { fault: 'eventhubs-unreachable', suite: 'closeout', exit: 1, gates: closeoutStopped({ 'consumer-eventhubs': 'failed:STARTUP_FAILED' }) },
  { fault: 'api-404-broken', suite: 'closeout', exit: 1, gates: expected(CLOSEOUT, { 'smoke-404': 'failed:SMOKE_FAILED' }) },
  {
    fault: 'api-500',
    suite: 'closeout',
    exit: 1,
    gates: expected(CLOSEOUT, { 'smoke-404': 'failed:SMOKE_FAILED', 'smoke-200': 'failed:SMOKE_FAILED' }),
  },
  // F3-4 Task 2: TAG_COUNT 0 → ENVIRONMENT_BLOCKED, and the consumer is not touched
  {
    fault: 'image-tag-missing',
    suite: 'closeout',
    exit: 2,
    gates: closeoutStopped({
      'consumer-rollout': 'blocked:ENVIRONMENT_BLOCKED',
      'consumer-db': 'blocked',
      'consumer-eventhubs': 'blocked',
    }),
  },
  // E2-3 §3: AKS provisioningState must be Succeeded, else the rehearsal stops at precheck
  { fault: 'aks-not-succeeded', suite: 'rehearsal', exit: 2, gates: allBlockedAfter(REHEARSAL, 'precheck') },
  // E2-3 is a sequence: a failed gate stops everything after it (nothing more is written to the target)
  {
    fault: 'migration-broken',
    suite: 'rehearsal',
    exit: 1,
    gates: stoppedAfter(REHEARSAL, 'migrate', { migrate: 'failed:MIGRATION_FAILED' }),
  },
  {
    fault: 'backfill-broken',
    suite: 'rehearsal',
    exit: 1,
    gates: stoppedAfter(REHEARSAL, 'backfill', { backfill: 'failed:BACKFILL_FAILED' }),
  },
  {
    fault: 'sync-broken',
    suite: 'rehearsal',
    exit: 1,
    gates: stoppedAfter(REHEARSAL, 'sync-happy', { 'sync-happy': 'failed:SYNC_FAILED' }),
  },
  { fault: 'non-idempotent', suite: 'rehearsal', exit: 1, gates: expected(REHEARSAL, { idempotency: 'failed:IDEMPOTENCY_FAILED' }) },
  // monitoring faults through both query paths; last, so their metric samples cannot leak into other cases
  {
    fault: 'monitoring-forbidden',
    suite: 'closeout',
    exit: 2,
    gates: expected(CLOSEOUT, {
      'consumer-lag': 'blocked:MONITORING_ACCESS_BLOCKED',
      'consumer-freshness': 'blocked:MONITORING_ACCESS_BLOCKED',
    }),
  },
  {
    fault: 'monitoring-forbidden',
    suite: 'closeout',
    target: 'fixtures/targets/local-prometheus.yaml',
    exit: 2,
    gates: expected(CLOSEOUT, {
      'consumer-lag': 'blocked:MONITORING_ACCESS_BLOCKED',
      'consumer-freshness': 'blocked:MONITORING_ACCESS_BLOCKED',
    }),
  },
  {
    fault: 'consumer-stale',
    suite: 'closeout',
    exit: 1,
    gates: expected(CLOSEOUT, { 'consumer-freshness': 'failed:FRESHNESS_SLO_BREACHED' }),
  },
  {
    fault: 'consumer-stale',
    suite: 'closeout',
    target: 'fixtures/targets/local-prometheus.yaml',
    exit: 1,
    gates: expected(CLOSEOUT, { 'consumer-freshness': 'failed:FRESHNESS_SLO_BREACHED' }),
  },
]

// E2-3 §7: every evidence file (the 99 summary markdown too, as `- key: value` list items)
const REQUIRED_FIELDS = [
  /^(- )?command: /m,
  /^(- )?exit_code: /m,
  /^(- )?(started_at_utc|finished_at_utc|utc_timestamp): \d{4}-\d{2}-\d{2}T/m,
  /^(- )?owner: /m,
  /^(- )?result: /m,
]

function checkBundle(run: SuiteRun, suite: 'closeout' | 'rehearsal', files: string[]): void {
  const dir = run.summary.bundles[suite]
  expect(existsSync(dir), `bundle ${dir}`).toBe(true)
  for (const f of files) {
    const p = join(dir, f)
    expect(existsSync(p), `${suite} evidence ${f}`).toBe(true)
    const text = readFileSync(p, 'utf8')
    for (const re of REQUIRED_FIELDS) expect(text, `${f} has ${re}`).toMatch(re)
  }
  expect(verifyManifest(dir)).toEqual({ ok: true, problems: [] })
}

describe('local environment, no fault', { timeout: 300_000 }, () => {
  beforeAll(() => {
    envUp([])
  })

  test('closeout: GO, exit 0, every evidence file with command/exit_code/UTC/owner/result, manifest verifies', () => {
    const r = runGates(['--tag', 'closeout'])
    expect(outcome(r.summary, 'closeout')).toEqual(expected(CLOSEOUT, {}))
    expect(r.summary.decision).toBe('GO')
    expect(r.code).toBe(0)
    checkBundle(r, 'closeout', [
      '01_aks_namespace_state.log',
      '02_consumer_rollout.log',
      '03_consumer_db_connectivity.log',
      '04_consumer_eventhubs_connectivity.log',
      '05_api_smoke_404.log',
      '06_api_smoke_200.log',
      '07_consumer_lag.log',
      '08_consumer_freshness.log',
      '99_f3_4_runtime_summary.md',
    ])
    const summaryMd = readFileSync(join(r.summary.bundles.closeout, '99_f3_4_runtime_summary.md'), 'utf8')
    expect(summaryMd).toContain('decision: **GO**')
    // F3-4 Task 1's `get pods -A | grep`: the related pods of every namespace (the admin kubeconfig may list them)
    const baseline = readFileSync(join(r.summary.bundles.closeout, '01_aks_namespace_state.log'), 'utf8')
    expect(baseline).toContain('kubectl get pods -A -o wide | grep -Ei "txlookup|tx-lookup|consumer|langfuse" || true')
    expect(baseline).toMatch(/"namespace": "txlookup",\s+"name": "txlookup-consumer-/)
    expect(readFileSync(join(r.summary.bundles.closeout, '03_consumer_db_connectivity.log'), 'utf8')).toMatch(/^\s+db_connectivity_ok$/m)
    expect(readFileSync(join(r.summary.bundles.closeout, '06_api_smoke_200.log'), 'utf8')).toMatch(/BODY_SHA256: [0-9a-f]{64}/)
    // the raw query rows, all of them, with the query and its time range
    for (const f of ['07_consumer_lag.rows.json', '08_consumer_freshness.rows.json']) {
      const q = JSON.parse(readFileSync(join(r.summary.bundles.closeout, f), 'utf8')) as {
        query: string
        timeRange: { start: string; end: string }
        rows: unknown[]
      }
      expect(q.query).toMatch(/^AppMetrics/)
      expect(Date.parse(q.timeRange.end) - Date.parse(q.timeRange.start)).toBe(30 * 60_000)
      expect(q.rows.length).toBeGreaterThan(0)
    }
  })

  test('rehearsal: GO, exit 0, 01–09 + 99 present, no rollback, manifest verifies', () => {
    const r = runGates(['--tag', 'rehearsal'])
    expect(outcome(r.summary, 'rehearsal')).toEqual(expected(REHEARSAL, {}))
    expect(r.code).toBe(0)
    checkBundle(r, 'rehearsal', [
      '01_precheck.log',
      '02_alembic_upgrade.log',
      '03_backfill.log',
      '04_sync_happy.log',
      '05_smoke_200.log',
      '06_smoke_404.log',
      '07_idempotency_duplicate.log',
      '08_cutover_decision.log',
      '09_rollback_or_no_rollback.log',
      '99_summary.md',
    ])
    expect(readFileSync(join(r.summary.bundles.rehearsal, '09_rollback_or_no_rollback.log'), 'utf8')).toMatch(/result: NO_ROLLBACK/)
    const idem = readFileSync(join(r.summary.bundles.rehearsal, '07_idempotency_duplicate.log'), 'utf8')
    const before = /BEFORE_CANON_HASH: ([0-9a-f]{64})/.exec(idem)?.[1]
    expect(before).toBeDefined()
    expect(idem).toContain(`AFTER_CANON_HASH: ${before}`)
  })

  test('exit 0 without the success marker is a failure, not a pass (consumer-db and consumer-eventhubs)', () => {
    // a probe that connects nowhere and says nothing useful, but exits 0
    const dir = mkdtempSync(join(tmpdir(), 'marker-'))
    const f = join(dir, 'local-no-marker.yaml')
    const text = readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8')
      .replace('command: [txlookup-probe, db]', 'command: [echo, connected]')
      .replace('command: [txlookup-probe, tcp, "{host}", "{port}"]', 'command: [echo, connected]')
    expect(text).not.toContain('txlookup-probe')
    writeFileSync(f, text)
    const r = runGates(['--tag', 'consumer-db', '--tag', 'consumer-eventhubs', '--target', f])
    expect(outcome(r.summary, 'closeout')).toEqual({
      'consumer-db': 'failed:STARTUP_FAILED',
      'consumer-eventhubs': 'failed:STARTUP_FAILED',
    })
    expect(r.code).toBe(1)
    expect(r.summary.gates.find((g) => g.id === 'consumer-db')?.reason).toContain(
      'exit 0 but the success marker "db_connectivity_ok" is missing',
    )
    const log = readFileSync(join(r.summary.bundles.closeout, '03_consumer_db_connectivity.log'), 'utf8')
    expect(log).toMatch(/^exit_code: 0$/m)
    expect(log).toMatch(/^marker_found: no$/m)
  })

  test('a stale T_cutover stops the rehearsal at precheck (ENVIRONMENT_BLOCKED), nothing else runs; exit 2', () => {
    const r = runGates(['--tag', 'rehearsal'], { T_CUTOVER: isoSeconds(Date.now() - 10 * 60_000) })
    expect(outcome(r.summary, 'rehearsal')).toEqual(allBlockedAfter(REHEARSAL, 'precheck'))
    expect(r.summary.gates.find((g) => g.id === 'precheck')?.reason).toMatch(/outside the ±5 min buffer/)
    expect(r.code).toBe(2)
  })

  test('a T_cutover still ahead is waited for: nothing is published before it; a partial rehearsal is INCOMPLETE, never a cutover GO', () => {
    const t = isoSeconds(Date.now() + 20_000) // past the process start and precheck, so sync-happy must wait
    const r = runGates(['--tag', 'precheck', '--tag', 'sync-happy'], { T_CUTOVER: t })
    expect(outcome(r.summary, 'rehearsal')).toEqual({ precheck: 'passed', 'sync-happy': 'passed' })
    expect(r.code).toBe(0)
    const sync = readFileSync(join(r.summary.bundles.rehearsal, '04_sync_happy.log'), 'utf8')
    expect(sync).toContain('waiting for T_cutover')
    const published = /published_at_utc: (\S+)/.exec(sync)?.[1]
    expect(Date.parse(published as string)).toBeGreaterThanOrEqual(Date.parse(t))
    expect(readFileSync(join(r.summary.bundles.rehearsal, '08_cutover_decision.log'), 'utf8')).toMatch(/^decision: INCOMPLETE$/m)
    expect(readFileSync(join(r.summary.bundles.rehearsal, '09_rollback_or_no_rollback.log'), 'utf8')).toMatch(/^result: HOLD$/m)
  })
})

describe('fault matrix', { timeout: 300_000 }, () => {
  afterAll(() => {
    envUp([])
  })
  for (const c of CASES) {
    test(`${c.fault} → ${c.suite}${c.target ? ` (${c.target.split('/').pop()})` : ''}: ${Object.entries(c.gates)
      .filter(([, v]) => v !== 'passed')
      .map(([g, v]) => `${g} ${v}`)
      .join(', ')}; exit ${c.exit}`, () => {
      envUp([c.fault])
      const r = runGates(['--tag', c.suite, ...(c.target ? ['--target', c.target] : [])])
      expect(outcome(r.summary, c.suite)).toEqual(c.gates)
      expect(r.code, r.stderr).toBe(c.exit)
      expect(r.summary.retry?.unblockCriteria.length).toBeGreaterThan(0)
      // failed and blocked gates keep complete evidence files too
      for (const g of r.summary.gates) {
        expect(g.evidence, `${g.id} evidence file`).toBeTruthy()
        const text = readFileSync(g.evidence as string, 'utf8')
        for (const re of REQUIRED_FIELDS) expect(text, `${g.id}: ${re}`).toMatch(re)
      }
      for (const g of r.summary.gates.filter((x) => x.status === 'blocked' && !x.classification))
        expect(g.reason).toMatch(/^(blocked by|stopped at) [a-z0-9-]+ \(/)
    })
  }

  // after the fault cases: it switches a fault on and off
  test('one-gate rerun: smoke-404 fails under api-404-broken, passes after the fix, and --run-id turns that run GO (summary and bundle updated)', () => {
    envUp(['api-404-broken'])
    const first = runGates(['--tag', 'closeout'])
    expect(outcome(first.summary, 'closeout')).toEqual(expected(CLOSEOUT, { 'smoke-404': 'failed:SMOKE_FAILED' }))
    expect(first.code).toBe(1)
    envUp([])
    const file = join(first.summary.bundles.closeout, '05_api_smoke_404.log')
    const rerun = runGates(['--tag', 'smoke-404', '--run-id', first.runId])
    expect(rerun.code).toBe(0)
    expect(rerun.summary.runId).toBe(first.runId)
    expect(rerun.summary.decision).toBe('GO')
    expect(rerun.summary.retry).toBeNull()
    // same bundle, every gate of the run still in the summary, only smoke-404 changed
    expect(rerun.summary.bundles.closeout).toBe(first.summary.bundles.closeout)
    expect(outcome(rerun.summary, 'closeout')).toEqual(expected(CLOSEOUT, {}))
    expect(JSON.parse(readFileSync(join(ROOT, 'reports/latest/summary.json'), 'utf8')).runId).toBe(first.runId)
    // the evidence file keeps both attempts, in order
    const attempts = [...readFileSync(file, 'utf8').matchAll(/^=== result: (\w+)$/gm)].map((m) => m[1])
    expect(attempts).toEqual(['FAILED', 'PASSED'])
    expect(readFileSync(join(first.summary.bundles.closeout, '99_f3_4_runtime_summary.md'), 'utf8')).toContain('decision: **GO**')
    expect(verifyManifest(rerun.summary.bundles.closeout)).toEqual({ ok: true, problems: [] })
  })
})
