// schemas/summary.schema.json is the machine-readable contract of summary.json: real summaries (GO,
// a one-gate run, an advisory gate under the profile's policy, a configuration error, and every summary
// earlier e2e tests left in reports/runs) and the finalizer's own output for NO_GO, BLOCKED,
// interrupted, waived, expired-waiver and --keep-going advisory runs validate against it with ajv,
// and the schema's enums are the code's.

import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { finalizeRun } from '../../helpers/bundle.ts'
import { CLASSIFICATIONS } from '../../helpers/classification.ts'
import { SUMMARY_GATE_STATUSES, type Summary } from '../../helpers/decision.ts'
import type { DecisionPolicy } from '../../helpers/policy.ts'
import { type GateResult, type RunInfo, writeGateResult, writeRunInfo } from '../../helpers/run-state.ts'
import { SUITE_NAMES } from '../../helpers/suites.ts'
import { envDown, envUp, node, ROOT, runGates } from './_run.ts'

const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'summary.schema.json'), 'utf8')) as {
  $defs: Record<string, { enum?: string[]; properties?: Record<string, { enum?: string[] }> }>
}

const T = new Date('2026-11-22T12:00:00Z')
const result = (id: string, status: GateResult['status'], classification: string | null = null): GateResult => ({
  id,
  suite: 'closeout',
  status,
  classification,
  reason: status === 'passed' ? null : `${id}: ${status}`,
  durationMs: 3,
  evidence: null,
  startedAt: T.toISOString(),
  finishedAt: T.toISOString(),
})

/** The finalizer's summary of a synthetic run, in its own reports dir (the env var is restored: the
 * gate runs of the other tests inherit this process's environment). */
function finalized(results: GateResult[], o: { interrupted?: boolean; policy?: DecisionPolicy; keepGoing?: boolean } = {}): Summary {
  const before = process.env.CLOSEOUT_REPORTS_DIR
  process.env.CLOSEOUT_REPORTS_DIR = join(mkdtempSync(join(tmpdir(), 'summary-schema-')), 'reports')
  try {
    const runId = '20261122_120000'
    const info: RunInfo = {
      runId,
      target: { file: 'fixtures/targets/local.yaml', name: 'local' },
      startedAt: T.toISOString(),
      tagsFilter: 'closeout',
      selected: results.map((r) => ({
        id: r.id,
        suite: r.suite,
        classification: 'SMOKE_FAILED',
        needs: [],
        evidence: `${r.id}.log`,
        title: r.id,
      })),
      allowMutations: false,
      allowDisruption: false,
      keepGoing: o.keepGoing,
      invocations: 1,
      owner: 'ops-team',
      retryAfterHours: 4,
    }
    writeRunInfo(info)
    for (const r of results) writeGateResult(runId, r)
    return finalizeRun(runId, { owner: 'ops-team', retryAfterHours: 4, now: T, interrupted: o.interrupted, policy: o.policy })
  } finally {
    if (before === undefined) delete process.env.CLOSEOUT_REPORTS_DIR
    else process.env.CLOSEOUT_REPORTS_DIR = before
  }
}

const freshnessWaiver = (expiresAt: string): DecisionPolicy => ({
  waivers: [
    {
      gate: 'consumer-freshness',
      classification: 'FRESHNESS_SLO_BREACHED',
      reason: 'consumer catch-up after the reload',
      owner: 'data-platform',
      ticket: 'OPS-4711',
      expiresAt,
    },
  ],
  advisory: [],
})

// ajv-formats is CommonJS: module.exports is the plugin itself (its types only describe .default)
const addFormats = ajvFormats as unknown as typeof ajvFormats.default

function validator(): (doc: unknown) => string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true })
  addFormats(ajv)
  const validate = ajv.compile(schema)
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`))
}

describe('schemas/summary.schema.json', () => {
  beforeAll(() => envUp())
  afterAll(() => envDown())

  test('its enums are the code: classifications and suites', () => {
    expect(schema.$defs.classification.enum).toEqual([...CLASSIFICATIONS])
    expect(schema.$defs.suite.enum).toEqual([...SUITE_NAMES])
    expect(schema.$defs.gate.properties?.status.enum).toEqual([...SUMMARY_GATE_STATUSES])
  })

  test("the finalizer's NO_GO, BLOCKED, interrupted, waived, expired-waiver, policy-advisory and --keep-going summaries validate", () => {
    const validate = validator()
    const breach = () => [result('baseline', 'passed'), result('consumer-freshness', 'failed', 'FRESHNESS_SLO_BREACHED')]
    const cases: [string, Summary, string][] = [
      ['NO_GO', finalized(breach()), 'NO_GO'],
      ['BLOCKED', finalized([result('baseline', 'blocked', 'ENVIRONMENT_BLOCKED'), result('smoke-200', 'blocked')]), 'BLOCKED'],
      ['interrupted', finalized([result('baseline', 'passed'), result('smoke-200', 'interrupted')], { interrupted: true }), 'BLOCKED'],
      ['waived', finalized(breach(), { policy: freshnessWaiver('2099-01-01T00:00:00Z') }), 'GO'],
      ['expired waiver', finalized(breach(), { policy: freshnessWaiver('2020-01-01T00:00:00Z') }), 'NO_GO'],
      ['policy advisory', finalized(breach(), { policy: { waivers: [], advisory: ['consumer-freshness'] } }), 'GO'],
      [
        '--keep-going',
        finalized([result('baseline', 'failed', 'STARTUP_FAILED'), result('smoke-200', 'advisory', 'SMOKE_FAILED')], { keepGoing: true }),
        'NO_GO',
      ],
    ]
    for (const [name, s, decision] of cases) {
      expect(s.decision, name).toBe(decision)
      expect(validate(JSON.parse(JSON.stringify(s))), name).toEqual([])
    }
    expect(cases[3][1].gates.map((g) => g.status)).toEqual(['passed', 'waived'])
    expect(cases[5][1].gates.map((g) => g.status)).toEqual(['passed', 'advisory'])
    expect(cases[2][1].interrupted).toBe(true)
  })

  test('a GO run, a run with a failing gate, a configuration error: each summary validates', () => {
    const validate = validator()
    const go = runGates(['--tag', 'closeout'])
    expect(go.summary.decision).toBe('GO')
    expect(validate(go.summary)).toEqual([])
    const oneGate = runGates(['--tag', 'smoke-404'], { CLOSEOUT_LOCAL_REGISTRY_TOKEN: 'wrong' })
    expect(validate(oneGate.summary)).toEqual([])
    // a real run under a profile policy: the advisory gate and the policy fields as the CLI writes them
    const profile = join(mkdtempSync(join(tmpdir(), 'summary-schema-')), 'advisory.yaml')
    writeFileSync(
      profile,
      `${readFileSync(join(ROOT, 'fixtures', 'targets', 'local.yaml'), 'utf8')}\npolicy:\n  advisory: [closeout/smoke-404]\n`,
    )
    const advisory = runGates(['--tag', 'baseline', '--tag', 'smoke-404', '--target', profile])
    expect(advisory.summary.decision).toBe('GO')
    expect(advisory.summary.advisory).toEqual(['closeout/smoke-404'])
    expect(validate(advisory.summary)).toEqual([])
    const bad = node(['bin/test.ts', '--tag', 'no-such-gate', '--quiet'])
    expect(bad.code).toBe(3)
    const latest = JSON.parse(readFileSync(join(ROOT, 'reports', 'latest', 'summary.json'), 'utf8')) as { configError: string | null }
    expect(latest.configError).toMatch(/no-such-gate/)
    expect(validate(latest)).toEqual([])
  })

  test('stdout is not a TTY (CI logs, kubectl logs): no ANSI colour codes even with CI set', () => {
    const r = node(['bin/test.ts', '--tag', 'smoke-404'], { CI: 'true', FORCE_COLOR: '' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/closeout decision: GO/)
    expect(r.stdout + r.stderr).not.toContain(String.fromCharCode(27) + '[')
  })

  test('every summary under reports/runs (what the other e2e tests produced) validates', () => {
    const validate = validator()
    const dir = join(ROOT, 'reports', 'runs')
    const files = readdirSync(dir)
      .map((r) => join(dir, r, 'summary.json'))
      .filter(existsSync)
    expect(files.length).toBeGreaterThanOrEqual(2)
    const problems = files.flatMap((f) => validate(JSON.parse(readFileSync(f, 'utf8'))).map((p) => `${f}: ${p}`))
    expect(problems).toEqual([])
  })

  test('the validator rejects a summary that breaks the contract', () => {
    const validate = validator()
    const go = JSON.parse(readFileSync(join(ROOT, 'reports', 'latest', 'summary.json'), 'utf8')) as Record<string, unknown>
    expect(validate({ ...go, decision: 'MAYBE' }).join()).toMatch(/\/decision/)
    expect(
      validate({
        ...go,
        gates: [{ id: 'x', suite: 'closeout', status: 'passed', classification: 'SOMETHING', reason: null, durationMs: 1, evidence: null }],
      }).join(),
    ).toMatch(/classification/)
    expect(
      validate({
        ...go,
        gates: [{ id: 'x', suite: 'closeout', status: 'forgiven', classification: null, reason: null, durationMs: 1, evidence: null }],
      }).join(),
    ).toMatch(/status/)
    expect(validate({ ...go, waiversInForce: [{ gate: 'x' }] }).join()).toMatch(/waiversInForce/)
    const { runId: _drop, ...noRunId } = go
    void _drop
    expect(validate(noRunId).join()).toMatch(/runId/)
  })
})
