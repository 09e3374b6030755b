import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import { finalizeRun, verifyManifest } from '../../helpers/bundle.ts'
import { buildSummary, decide, EXIT_CODES, stopReason } from '../../helpers/decision.ts'
import { bundleDir, type GateResult, type RunInfo, writeGateResult, writeRunInfo } from '../../helpers/run-state.ts'

describe('decision', () => {
  test('GO only when every selected gate passed', () => {
    expect(decide([{ status: 'passed', classification: null }])).toBe('GO')
    expect(decide([])).toBe('BLOCKED')
  })
  test('NO_GO when any gate failed with *_FAILED or FRESHNESS_SLO_BREACHED, even if others are blocked', () => {
    expect(
      decide([
        { status: 'failed', classification: 'SMOKE_FAILED' },
        { status: 'blocked', classification: 'ENVIRONMENT_BLOCKED' },
      ]),
    ).toBe('NO_GO')
    expect(
      decide([
        { status: 'passed', classification: null },
        { status: 'failed', classification: 'FRESHNESS_SLO_BREACHED' },
      ]),
    ).toBe('NO_GO')
  })
  test('BLOCKED when nothing failed but something was blocked or did not run', () => {
    expect(
      decide([
        { status: 'passed', classification: null },
        { status: 'blocked', classification: 'MONITORING_ACCESS_BLOCKED' },
      ]),
    ).toBe('BLOCKED')
    expect(decide([{ status: 'blocked', classification: null }])).toBe('BLOCKED')
    expect(
      decide([
        { status: 'passed', classification: null },
        { status: 'skipped', classification: null },
      ]),
    ).toBe('BLOCKED')
    expect(decide([{ status: 'passed', classification: null }], { interrupted: true })).toBe('BLOCKED')
  })
  test('advisory results (--keep-going after a stop) never change the decision', () => {
    const stopped = { status: 'blocked' as const, classification: 'ENVIRONMENT_BLOCKED' }
    expect(decide([stopped, { status: 'advisory', classification: 'SMOKE_FAILED' }])).toBe('BLOCKED')
    expect(
      decide([
        { status: 'failed', classification: 'MIGRATION_FAILED' },
        { status: 'advisory', classification: null },
      ]),
    ).toBe('NO_GO')
    expect(
      decide([
        { status: 'passed', classification: null },
        { status: 'advisory', classification: null },
      ]),
    ).toBe('BLOCKED')
  })
  test('an interrupted run is BLOCKED, even when a gate had failed before the interrupt', () => {
    expect(decide([{ status: 'failed', classification: 'SMOKE_FAILED' }], { interrupted: true })).toBe('BLOCKED')
    expect(
      decide([
        { status: 'passed', classification: null },
        { status: 'interrupted', classification: null },
      ]),
    ).toBe('BLOCKED')
  })
  test('exit codes', () => {
    expect(EXIT_CODES).toEqual({ GO: 0, NO_GO: 1, BLOCKED: 2, USAGE: 3 })
  })
})

describe('stop rules (STOP_RULES in helpers/suites.ts)', () => {
  const r = (
    id: string,
    status: 'passed' | 'failed' | 'blocked' | 'interrupted',
    classification: string | null = null,
    suite: 'closeout' | 'rehearsal' = 'rehearsal',
  ) => ({ id, suite, status, classification })
  test('E2-3 is a sequence: a failed or blocked gate stops every later one, naming where and why', () => {
    const results = [r('precheck', 'passed'), r('migrate', 'failed', 'MIGRATION_FAILED')]
    for (const id of ['backfill', 'sync-happy', 'smoke-200', 'smoke-404', 'idempotency'])
      expect(stopReason('rehearsal', id, results)).toBe('stopped at migrate (MIGRATION_FAILED)')
    expect(stopReason('rehearsal', 'migrate', results)).toBeUndefined()
    expect(stopReason('rehearsal', 'idempotency', [r('precheck', 'blocked', 'ENVIRONMENT_BLOCKED')])).toBe(
      'stopped at precheck (ENVIRONMENT_BLOCKED)',
    )
    expect(stopReason('rehearsal', 'backfill', [r('migrate', 'interrupted')])).toBe('stopped at migrate (INTERRUPTED)')
  })
  test('the two smoke gates are one stage: one failing does not stop the other, but stops idempotency', () => {
    const results = [r('smoke-200', 'failed', 'SMOKE_FAILED')]
    expect(stopReason('rehearsal', 'smoke-404', results)).toBeUndefined()
    expect(stopReason('rehearsal', 'idempotency', results)).toBe('stopped at smoke-200 (SMOKE_FAILED)')
  })
  test('F3-4 Task 2 failing stops smoke and monitoring; its own probes still run; a smoke failure stops nothing', () => {
    const failedDb = [r('baseline', 'passed', null, 'closeout'), r('consumer-db', 'failed', 'STARTUP_FAILED', 'closeout')]
    for (const id of ['smoke-404', 'smoke-200', 'consumer-lag', 'consumer-freshness'])
      expect(stopReason('closeout', id, failedDb)).toBe('stopped at consumer-db (STARTUP_FAILED)')
    expect(stopReason('closeout', 'consumer-eventhubs', failedDb)).toBeUndefined()
    expect(stopReason('closeout', 'consumer-lag', [r('smoke-404', 'failed', 'SMOKE_FAILED', 'closeout')])).toBeUndefined()
    // a gate that did not run in this run stops nothing (a one-gate run decides on what it selected)
    expect(stopReason('closeout', 'smoke-404', [])).toBeUndefined()
  })
  test('buildSummary is pure: same input, same summary; advisory classifications stay out of the retry metadata', () => {
    const now = new Date('2026-11-22T10:00:00Z')
    const info = {
      runId: 'r',
      target: { file: 'f', name: 'n' },
      startedAt: now.toISOString(),
      tagsFilter: null,
      selected: [],
      allowMutations: false,
      allowDisruption: false,
      invocations: 1,
      owner: 'o',
      retryAfterHours: 1,
    }
    const g = (id: string, status: 'failed' | 'advisory', classification: string) => ({
      id,
      suite: 'rehearsal' as const,
      status,
      classification,
      reason: null,
      durationMs: 1,
      evidence: null,
      startedAt: '',
      finishedAt: '',
    })
    const input = {
      info,
      results: [g('migrate', 'failed', 'MIGRATION_FAILED'), g('backfill', 'advisory', 'BACKFILL_FAILED')],
      bundleDirOf: () => '/b',
      reportDir: '/r',
      owner: 'o',
      retryAfterHours: 1,
      now,
    }
    const s = buildSummary(input)
    expect(buildSummary(input)).toEqual(s)
    expect(s.decision).toBe('NO_GO')
    expect(s.classifications).toEqual(['MIGRATION_FAILED'])
    expect(s.retry?.unblockCriteria).toEqual([expect.stringMatching(/^MIGRATION_FAILED: /)])
  })
})

describe('finalizeRun', () => {
  let root: string
  const now = new Date('2026-11-22T10:00:00Z')
  const gate = (id: string, status: GateResult['status'], classification: string | null, reason: string | null = null): GateResult => ({
    id,
    suite: 'closeout',
    status,
    classification,
    reason,
    durationMs: 5,
    evidence: null,
    startedAt: now.toISOString(),
    finishedAt: now.toISOString(),
  })
  const info = (over: Partial<RunInfo> = {}): RunInfo => ({
    runId: '20261122_100000',
    target: { file: 'fixtures/targets/local.yaml', name: 'local' },
    startedAt: now.toISOString(),
    tagsFilter: 'closeout',
    selected: ['baseline', 'smoke-404', 'smoke-200'].map((id) => ({
      id,
      suite: 'closeout' as const,
      classification: 'SMOKE_FAILED',
      needs: [],
      evidence: `${id}.log`,
      title: id,
    })),
    allowMutations: false,
    allowDisruption: false,
    invocations: 1,
    owner: 'ops-team',
    retryAfterHours: 4,
    ...over,
  })
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'decision-'))
    process.env.CLOSEOUT_REPORTS_DIR = join(root, 'reports')
  })

  test('writes summary.json with the DESIGN schema, the suite markdown with retry metadata, and a manifest', () => {
    writeRunInfo(info())
    writeGateResult('20261122_100000', gate('baseline', 'passed', null))
    writeGateResult('20261122_100000', gate('smoke-404', 'failed', 'SMOKE_FAILED', 'GET /admin/tx/x answered 200, expected 404'))
    writeGateResult('20261122_100000', gate('smoke-200', 'blocked', null, 'blocked by smoke-404 (SMOKE_FAILED)'))
    const bundle = bundleDir('20261122_100000', 'closeout')
    const s = finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now })
    expect(s.decision).toBe('NO_GO')
    expect(s.classifications).toEqual(['SMOKE_FAILED'])
    expect(s.retry).toEqual({
      owner: 'ops-team',
      retryAtUtc: '2026-11-22T14:00:00Z',
      unblockCriteria: [expect.stringMatching(/^SMOKE_FAILED: /)],
    })
    const onDisk = JSON.parse(readFileSync(join(root, 'reports/latest/summary.json'), 'utf8'))
    for (const k of [
      'suite',
      'runId',
      'target',
      'startedAt',
      'finishedAt',
      'decision',
      'gates',
      'classifications',
      'retry',
      'evidenceDir',
      'reportDir',
    ])
      expect(onDisk).toHaveProperty(k)
    expect(onDisk.gates.map((g: { id: string; status: string }) => `${g.id}:${g.status}`)).toEqual([
      'baseline:passed',
      'smoke-404:failed',
      'smoke-200:blocked',
    ])
    const md = readFileSync(join(bundle, '99_f3_4_runtime_summary.md'), 'utf8')
    expect(md).toContain('decision: **NO_GO**')
    expect(md).toContain('retry_at_utc: 2026-11-22T14:00:00Z')
    expect(md).toContain('blocked by smoke-404 (SMOKE_FAILED)')
    expect(verifyManifest(bundle)).toEqual({ ok: true, problems: [] })
    writeFileSync(join(bundle, '99_f3_4_runtime_summary.md'), md.replace('NO_GO', 'GO'))
    expect(verifyManifest(bundle).problems).toEqual(['changed: 99_f3_4_runtime_summary.md'])
  })

  test('a configuration error still leaves a BLOCKED summary naming the error; unrun gates are skipped', () => {
    writeRunInfo(info({ configError: 'target profile p.yaml is invalid:\n  - kube: unknown key "x"' }))
    const s = finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now })
    expect(s.decision).toBe('BLOCKED')
    expect(s.configError).toContain('unknown key')
    expect(s.gates.every((g) => g.status === 'skipped')).toBe(true)
    expect(s.retry?.unblockCriteria[0]).toMatch(/^CONFIGURATION: /)
  })

  test('an interrupted run lists the gates that did not run and is never GO', () => {
    writeRunInfo(info())
    writeGateResult('20261122_100000', gate('baseline', 'passed', null))
    const s = finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now, interrupted: true })
    expect(s.decision).toBe('BLOCKED')
    expect(s.interrupted).toBe(true)
    expect(s.gates.find((g) => g.id === 'smoke-200')).toMatchObject({ status: 'skipped', reason: 'not run: the run was interrupted' })
  })

  test('an interrupted run can never later be finalized GO, whatever is appended to it', () => {
    writeRunInfo(info())
    writeGateResult('20261122_100000', gate('baseline', 'interrupted', null, 'the run was interrupted while this gate was running'))
    expect(finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now, interrupted: true }).decision).toBe('BLOCKED')
    // a straggler (or a later --run-id) completes every gate and finalizes again, not interrupted
    for (const id of ['baseline', 'smoke-404', 'smoke-200']) writeGateResult('20261122_100000', gate(id, 'passed', null))
    const again = finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now })
    expect(again.decision).toBe('BLOCKED')
    expect(again.interrupted).toBe(true)
  })

  test('the gate cut off by the interrupt keeps its partial evidence and gets an INTERRUPTED footer', () => {
    writeRunInfo(info())
    const file = join(bundleDir('20261122_100000', 'closeout'), 'baseline.log')
    mkdirSync(join(file, '..'), { recursive: true })
    writeFileSync(file, '=== gate: baseline (closeout)\n--- step: namespace txlookup\nexit_code: 0\n')
    writeGateResult('20261122_100000', {
      ...gate('baseline', 'interrupted', null, 'the run was interrupted while this gate was running'),
      evidence: file,
    })
    const s = finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now, interrupted: true })
    expect(s.gates.find((g) => g.id === 'baseline')?.status).toBe('interrupted')
    const text = readFileSync(file, 'utf8')
    expect(text).toContain('--- step: namespace txlookup')
    expect(text).toMatch(/=== result: INTERRUPTED\n/)
  })

  test('a configuration error keeps its whole message (every line), in the summary and the unblock criteria', () => {
    writeRunInfo(info({ configError: 'target profile p.yaml is invalid:\n  - kube: unknown key "x"\n  - api.port: expected number' }))
    const s = finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now })
    expect(s.gates[0].reason).toContain('api.port: expected number')
    expect(s.retry?.unblockCriteria[0]).toContain('api.port: expected number')
  })

  test('the rehearsal bundle gets the 08 decision and 09 rollback records', () => {
    writeRunInfo(
      info({
        selected: [
          {
            id: 'migrate',
            suite: 'rehearsal',
            classification: 'MIGRATION_FAILED',
            needs: [],
            evidence: '02_alembic_upgrade.log',
            title: 'm',
          },
        ],
      }),
    )
    writeGateResult('20261122_100000', { ...gate('migrate', 'failed', 'MIGRATION_FAILED', 'exit 1'), suite: 'rehearsal' })
    finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now })
    const b = bundleDir('20261122_100000', 'rehearsal')
    expect(readFileSync(join(b, '08_cutover_decision.log'), 'utf8')).toMatch(/decision: NO_GO/)
    const rb = readFileSync(join(b, '09_rollback_or_no_rollback.log'), 'utf8')
    expect(rb).toMatch(/do not perform cutover promotion/)
    expect(rb).toMatch(/new T_cutover/)
    for (const k of ['command:', 'exit_code:', 'utc_timestamp:', 'owner:', 'result:']) expect(rb).toContain(k)
    expect(existsSync(join(b, '99_summary.md'))).toBe(true)
  })

  const REHEARSAL = ['precheck', 'migrate', 'backfill', 'sync-happy', 'smoke-200', 'smoke-404', 'idempotency']
  const rehearsalInfo = (ids: string[]) =>
    info({
      selected: ids.map((id) => ({
        id,
        suite: 'rehearsal' as const,
        classification: 'SMOKE_FAILED',
        needs: [],
        evidence: `${id}.log`,
        title: id,
      })),
      suiteGates: { rehearsal: REHEARSAL },
      command: 'pnpm test --tag rehearsal',
    })

  test('the 99 summary carries command, exit_code, UTC timestamp, owner and result, GO included', () => {
    writeRunInfo(info({ command: 'pnpm test --tag closeout --target fixtures/targets/local.yaml' }))
    for (const id of ['baseline', 'smoke-404', 'smoke-200']) writeGateResult('20261122_100000', gate(id, 'passed', null))
    const s = finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now })
    expect(s.decision).toBe('GO')
    const md = readFileSync(join(bundleDir('20261122_100000', 'closeout'), '99_f3_4_runtime_summary.md'), 'utf8')
    expect(md).toContain('- command: pnpm test --tag closeout --target fixtures/targets/local.yaml')
    expect(md).toContain('- exit_code: 0')
    expect(md).toContain('- utc_timestamp: 2026-11-22T10:00:00.000Z')
    expect(md).toContain('- owner: ops-team')
    expect(md).toContain('- result: GO')
  })

  test('a rehearsal that passed every gate of the catalogue is a cutover GO with no rollback', () => {
    writeRunInfo(rehearsalInfo(REHEARSAL))
    for (const id of REHEARSAL) writeGateResult('20261122_100000', { ...gate(id, 'passed', null), suite: 'rehearsal' })
    finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now })
    const b = bundleDir('20261122_100000', 'rehearsal')
    expect(readFileSync(join(b, '08_cutover_decision.log'), 'utf8')).toMatch(/^decision: GO$/m)
    expect(readFileSync(join(b, '09_rollback_or_no_rollback.log'), 'utf8')).toMatch(/^result: NO_ROLLBACK$/m)
  })

  test('a rehearsal run of only some gates never authorises the cutover: 08 INCOMPLETE, 09 HOLD naming what did not run', () => {
    writeRunInfo(rehearsalInfo(['smoke-404']))
    writeGateResult('20261122_100000', { ...gate('smoke-404', 'passed', null), suite: 'rehearsal' })
    const s = finalizeRun('20261122_100000', { owner: 'ops-team', retryAfterHours: 4, now })
    expect(s.decision).toBe('GO') // every selected gate passed: the run itself is GO …
    const b = bundleDir('20261122_100000', 'rehearsal')
    const dec = readFileSync(join(b, '08_cutover_decision.log'), 'utf8')
    expect(dec).toMatch(/^decision: INCOMPLETE$/m) // … but the cutover is not
    expect(dec).toContain('not_run: precheck, migrate, backfill, sync-happy, smoke-200, idempotency')
    const rb = readFileSync(join(b, '09_rollback_or_no_rollback.log'), 'utf8')
    expect(rb).toMatch(/^result: HOLD$/m)
    expect(rb).toMatch(/do not perform cutover promotion/)
    expect(rb).not.toMatch(/may proceed/)
  })
})
