// The decision policy as the finalizer applies it: finalizeRun(…, { policy }) runs applyPolicy before
// the decision, and what it decided is on disk — summary.json (status, decision, waiver fields), the 99
// file's policy section, coverage and since-last-GO (in the manifest), the rehearsal's 08 record.

import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import { finalizeRun, verifyManifest } from '../../helpers/bundle.ts'
import type { DecisionPolicy, Waiver } from '../../helpers/policy.ts'
import { bundleDir, type GateResult, type RunInfo, writeGateResult, writeRunInfo } from '../../helpers/run-state.ts'
import type { SuiteName } from '../../helpers/suites.ts'

const RUN = '20261122_110000'
const now = new Date('2026-11-22T11:00:00Z')

function gate(id: string, status: GateResult['status'], classification: string | null, suite: SuiteName = 'closeout'): GateResult {
  return {
    id,
    suite,
    status,
    classification,
    reason: status === 'passed' ? null : `${id} went wrong`,
    durationMs: 5,
    evidence: null,
    startedAt: now.toISOString(),
    finishedAt: now.toISOString(),
  }
}

function info(ids: string[], suite: SuiteName = 'closeout'): RunInfo {
  return {
    runId: RUN,
    target: { file: 'fixtures/targets/local.yaml', name: 'local' },
    startedAt: now.toISOString(),
    tagsFilter: suite,
    selected: ids.map((id) => ({ id, suite, classification: 'SMOKE_FAILED', needs: [], evidence: `${id}.log`, title: id })),
    allowMutations: false,
    allowDisruption: false,
    invocations: 1,
    owner: 'ops-team',
    retryAfterHours: 4,
    suiteGates: { [suite]: ids },
  }
}

const waiver = (over: Partial<Waiver> = {}): Waiver => ({
  gate: 'consumer-freshness',
  classification: 'FRESHNESS_SLO_BREACHED',
  reason: 'consumer catch-up after the reload',
  owner: 'data-platform',
  ticket: 'OPS-4711',
  expiresAt: '2099-01-01T00:00:00Z',
  ...over,
})

const onDisk = (root: string) => JSON.parse(readFileSync(join(root, 'reports/latest/summary.json'), 'utf8'))
const closeout99 = () => readFileSync(join(bundleDir(RUN, 'closeout'), '99_f3_4_runtime_summary.md'), 'utf8')

function finalize(policy: DecisionPolicy) {
  return finalizeRun(RUN, { owner: 'ops-team', retryAfterHours: 4, now, policy })
}

describe('finalizeRun applies the profile decision policy before deciding', () => {
  let root: string
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'decision-policy-'))
    process.env.CLOSEOUT_REPORTS_DIR = join(root, 'reports')
    writeRunInfo(info(['baseline', 'consumer-freshness']))
    writeGateResult(RUN, gate('baseline', 'passed', null))
    writeGateResult(RUN, gate('consumer-freshness', 'failed', 'FRESHNESS_SLO_BREACHED'))
  })

  test('no policy: the breach is NO_GO', () => {
    expect(finalize({ waivers: [], advisory: [] }).decision).toBe('NO_GO')
    expect(onDisk(root).waiversInForce).toEqual([])
  })

  test('a waiver in force: WAIVED on disk, GO, no retry, the 99 file lists the waiver; the manifest covers it', () => {
    const s = finalize({ waivers: [waiver()], advisory: [] })
    expect(s.decision).toBe('GO')
    const d = onDisk(root)
    expect(d.decision).toBe('GO')
    expect(d.retry).toBeNull()
    expect(d.classifications).toEqual([])
    expect(d.waiversInForce).toEqual([waiver()])
    const g = d.gates.find((x: { id: string }) => x.id === 'consumer-freshness')
    expect(g).toMatchObject({ status: 'waived', classification: 'FRESHNESS_SLO_BREACHED', policy: { originalStatus: 'failed' } })
    expect(g.reason).toMatch(/^WAIVED by OPS-4711 \(data-platform, until 2099-01-01T00:00:00Z\)/)
    const md = closeout99()
    expect(md).toContain('decision: **GO**')
    expect(md).toContain('## Waivers in force')
    expect(md).toContain('| consumer-freshness | FRESHNESS_SLO_BREACHED | OPS-4711 | data-platform |')
    expect(md).toContain('| consumer-freshness | WAIVED |')
    expect(md).toContain('## Runbook coverage')
    expect(md).toContain('## Since the last GO')
    expect(verifyManifest(bundleDir(RUN, 'closeout'))).toEqual({ ok: true, problems: [] })
  })

  test('an expired waiver is ignored and reported: NO_GO, the waiver under "expired"', () => {
    const s = finalize({ waivers: [waiver({ expiresAt: '2026-11-01T00:00:00Z' })], advisory: [] })
    expect(s.decision).toBe('NO_GO')
    const d = onDisk(root)
    expect(d.waiversExpired).toHaveLength(1)
    expect(d.gates.find((x: { id: string }) => x.id === 'consumer-freshness').status).toBe('failed')
    expect(closeout99()).toContain('## Waivers expired (ignored: the failure decides)')
  })

  test('a waiver for another classification does not apply (listed as matching nothing)', () => {
    expect(finalize({ waivers: [waiver({ classification: 'SMOKE_FAILED' })], advisory: [] }).decision).toBe('NO_GO')
    expect(onDisk(root).waiversUnused).toHaveLength(1)
  })

  test('a policy-advisory gate that failed leaves GO; the 99 file reports it in the advisory section', () => {
    const s = finalize({ waivers: [], advisory: ['closeout/consumer-freshness'] })
    expect(s.decision).toBe('GO')
    const d = onDisk(root)
    expect(d.advisory).toEqual(['closeout/consumer-freshness'])
    expect(d.gates.find((x: { id: string }) => x.id === 'consumer-freshness')).toMatchObject({
      status: 'advisory',
      policy: { originalStatus: 'failed', advisory: true },
    })
    expect(closeout99()).toMatch(
      /## Advisory \(ran, never decide\)[\s\S]*\| closeout\/consumer-freshness \| FAILED \(policy\.advisory\) \|/,
    )
  })

  test('every gate advisory: nothing decided, BLOCKED', () => {
    const s = finalize({ waivers: [], advisory: ['baseline', 'consumer-freshness'] })
    expect(s.decision).toBe('BLOCKED')
    expect(s.retry?.unblockCriteria).toEqual([expect.stringMatching(/^NOTHING DECIDED: every selected gate is waived or advisory/)])
  })
})

describe('--keep-going results go through the same policy section', () => {
  test('a stop plus an advisory result: BLOCKED/NO_GO as before, the advisory gate listed in summary.advisory and the 99 file', () => {
    const root = mkdtempSync(join(tmpdir(), 'decision-policy-'))
    process.env.CLOSEOUT_REPORTS_DIR = join(root, 'reports')
    writeRunInfo(info(['baseline', 'smoke-200']))
    writeGateResult(RUN, gate('baseline', 'failed', 'STARTUP_FAILED'))
    writeGateResult(RUN, { ...gate('smoke-200', 'advisory', null), reason: 'advisory (--keep-going after stopped at baseline); passed' })
    const s = finalize({ waivers: [], advisory: [] })
    expect(s.decision).toBe('NO_GO')
    expect(onDisk(root).advisory).toEqual(['closeout/smoke-200'])
    expect(closeout99()).toContain('| closeout/smoke-200 | ADVISORY (--keep-going after a stop) |')
  })
})

describe('the rehearsal cutover record under a waiver', () => {
  test('a waived rehearsal failure lets the suite and the cutover decision be GO; 08 says so', () => {
    const root = mkdtempSync(join(tmpdir(), 'decision-policy-'))
    process.env.CLOSEOUT_REPORTS_DIR = join(root, 'reports')
    writeRunInfo(info(['precheck', 'idempotency'], 'rehearsal'))
    writeGateResult(RUN, gate('precheck', 'passed', null, 'rehearsal'))
    writeGateResult(RUN, gate('idempotency', 'failed', 'IDEMPOTENCY_FAILED', 'rehearsal'))
    const s = finalize({ waivers: [waiver({ gate: 'rehearsal/idempotency', classification: 'IDEMPOTENCY_FAILED' })], advisory: [] })
    expect(s.decision).toBe('GO')
    const rec = readFileSync(join(bundleDir(RUN, 'rehearsal'), '08_cutover_decision.log'), 'utf8')
    expect(rec).toContain('decision: GO')
    expect(rec).toContain('idempotency: waived (IDEMPOTENCY_FAILED)')
  })
})
