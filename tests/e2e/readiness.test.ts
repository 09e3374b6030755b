// The readiness suite's proof, like the fault matrix: against the local environment with no fault every
// readiness gate passes (GO); each readiness fault alone fails exactly its gate and changes no other.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { envUp, outcome, runGates } from './_run.ts'

const READINESS = ['health', 'ready', 'metrics', 'log-hygiene', 'workload-policy', 'dlq-backlog', 'event-ledger']

const expected = (changed: Record<string, string>) => Object.fromEntries(READINESS.map((g) => [g, changed[g] ?? 'passed']))

const CASES: { fault: string; gate: string; reason: RegExp }[] = [
  { fault: 'health-missing-redis', gate: 'health', reason: /API \/health: redis not reported/ },
  { fault: 'metrics-bad-exposition', gate: 'metrics', reason: /not valid exposition format: line \d+: invalid escape sequence/ },
  { fault: 'workload-no-limits', gate: 'workload-policy', reason: /tx-lookup-api\/api: no cpu limit \(profile: at least 2000m\)/ },
  {
    fault: 'netpol-allow-all',
    gate: 'workload-policy',
    reason: /tx-lookup-api: tx-lookup-api ingress\[0\] has no from: it allows all sources/,
  },
  { fault: 'ledger-no-check', gate: 'event-ledger', reason: /identity\.event_ledger has no CHECK constraint event_ledger_result_check/ },
  { fault: 'dlq-tool-broken', gate: 'dlq-backlog', reason: /DLQ tool `txlookup-dlq report .*` exited 1/ },
]

describe('readiness suite against the local environment', { timeout: 300_000 }, () => {
  afterAll(() => {
    envUp([]) // leave the environment without faults for whoever runs next
  })

  test('no fault: every readiness gate passes, GO, exit 0', () => {
    envUp([])
    const r = runGates(['--tag', 'readiness'])
    expect(outcome(r.summary, 'readiness')).toEqual(expected({}))
    expect(r.summary.decision).toBe('GO')
    expect(r.code).toBe(0)
    // the gates checked something real: the catalog rows and the DLQ tool output are in the evidence
    const dir = r.summary.bundles.readiness
    expect(readFileSync(join(dir, '07_event_ledger.log'), 'utf8')).toMatch(/check\|identity\.event_ledger\|CHECK \(\(\(processing_result\)/)
    expect(readFileSync(join(dir, '06_dlq_backlog.log'), 'utf8')).toMatch(/DLQ txlookup\.ledger\.dlq: \d+ message\(s\) in the last 24 h/)
  })

  for (const c of CASES) {
    test(`${c.fault}: only ${c.gate} fails (READINESS_FAILED), NO_GO, exit 1`, () => {
      envUp([c.fault])
      const r = runGates(['--tag', 'readiness'])
      expect(outcome(r.summary, 'readiness')).toEqual(expected({ [c.gate]: 'failed:READINESS_FAILED' }))
      expect(r.summary.decision).toBe('NO_GO')
      expect(r.code).toBe(1)
      const g = r.summary.gates.find((x) => x.id === c.gate)
      expect(g?.reason ?? '').toMatch(c.reason)
    })
  }
})
