// The pure half of a fleet run (helpers/fleet.ts): the argument split, a target's verdict from its exit code
// and summary (never GO unless both say GO), the fleet's one exit code (config 3 > NO_GO 1 > BLOCKED 2 > GO 0,
// interrupted 2), and the gate × target table.
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { fleetJobName, JobUsageError, renderJob, renderJobs } from '../../bin/job.ts'
import type { Summary, SummaryGate } from '../../helpers/decision.ts'
import {
  buildFleetReport,
  DEFAULT_PARALLEL,
  fleetExitCode,
  formatFleetReport,
  isFleetArgv,
  parseFleetArgs,
  type TargetOutcome,
  targetRunId,
  targetVerdict,
} from '../../helpers/fleet.ts'
import { UsageError } from '../../helpers/tags.ts'

const gate = (id: string, status: SummaryGate['status'], classification: string | null = null): SummaryGate => ({
  id,
  suite: 'closeout',
  status,
  classification,
  reason: null,
  durationMs: 1,
  evidence: null,
})

function summary(decision: Summary['decision'], gates: SummaryGate[], extra: Partial<Summary> = {}): Summary {
  return {
    suite: 'closeout',
    runId: 'r',
    target: 'dev (fixtures/targets/dev.yaml)',
    startedAt: '',
    finishedAt: '',
    decision,
    gates,
    classifications: [],
    retry: null,
    evidenceDir: null,
    reportDir: '',
    bundles: {},
    configError: null,
    interrupted: false,
    ...extra,
  } as Summary
}
const outcome = (exitCode: number | null, s?: Summary, target = 'dev.yaml'): TargetOutcome => ({
  target,
  runId: `f-1-${target}`,
  exitCode,
  summary: s,
  log: 'reports/fleet/f/x.log',
})
const GO = summary('GO', [gate('baseline', 'passed')])
const NO_GO = summary('NO_GO', [gate('baseline', 'passed'), gate('consumer-freshness', 'failed', 'FRESHNESS_SLO_BREACHED')])
const BLOCKED = summary('BLOCKED', [gate('baseline', 'blocked', 'CLUSTER_ACCESS_BLOCKED')])
const CONFIG = summary('BLOCKED', [], { configError: 'target profile x.yaml does not exist' })

describe('the fleet command line', () => {
  test('more than one --target, or --parallel, is a fleet; one --target is a single run', () => {
    expect(isFleetArgv(['--tag', 'closeout', '--target', 'a.yaml'])).toBe(false)
    expect(isFleetArgv(['--target', 'a.yaml', '--target=b.yaml'])).toBe(true)
    expect(isFleetArgv(['--target', 'a.yaml', '--parallel', '1'])).toBe(true)
  })
  test('the fleet options are taken off, the rest goes to every target unchanged', () => {
    const a = parseFleetArgs(['--', '--tag', 'closeout', '--target', 'a.yaml', '--target', 'b.yaml', '--keep-going', '--tags-filter', '!x'])
    expect(a).toEqual({
      targets: ['a.yaml', 'b.yaml'],
      parallel: DEFAULT_PARALLEL,
      passArgs: ['--tag', 'closeout', '--tags-filter', '!x', '--keep-going'],
      quiet: false,
      help: false,
    })
    expect(parseFleetArgs(['--target', 'a', '--target', 'b', '--parallel=4']).parallel).toBe(4)
  })
  test.each([
    [['--target', 'a', '--target', 'b', '--parallel', '0'], /--parallel "0"/],
    [['--target', 'a', '--target', 'b', '--parallel', 'two'], /--parallel "two"/],
    [['--target', 'a', '--target', 'b', '--run-id', 'x'], /--run-id is for one target/],
    [['--target', 'a', '--target', 'b', '--list'], /--list is for one target/],
    [['--target', 'a', '--target', 'b', '--bogus'], /--bogus/],
    [['--target', 'a', '--target', ''], /--target needs a value/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseFleetArgs(argv)).toThrow(UsageError)
    expect(() => parseFleetArgs(argv)).toThrow(message)
  })
  test('each target gets its own valid run id, distinct even for the same profile twice', () => {
    const ids = ['fixtures/targets/local-fleet-dev.yaml', 'fixtures/targets/local-fleet-dev.yaml', '/x/eu west.yml'].map((t, i) =>
      targetRunId('20261201_230000-abcdef', i, t),
    )
    expect(ids).toEqual([
      '20261201_230000-abcdef-1-local-fleet-dev',
      '20261201_230000-abcdef-2-local-fleet-dev',
      '20261201_230000-abcdef-3-eu-west',
    ])
    for (const id of ids) expect(id).toMatch(/^[\w.-]+$/)
  })
})

describe('one target: the worse of its exit code and its summary', () => {
  test.each([
    [0, GO, 'GO', 0],
    [1, NO_GO, 'NO_GO', 1],
    [2, BLOCKED, 'BLOCKED', 2],
    [3, CONFIG, 'CONFIG_ERROR', 3],
    // disagreement: never GO
    [0, NO_GO, 'NO_GO', 1],
    [1, GO, 'NO_GO', 1],
    // no summary (crash before finalize), or a child killed by a signal
    [0, undefined, 'BLOCKED', 2],
    [null, undefined, 'BLOCKED', 2],
    [null, GO, 'BLOCKED', 2],
    [137, GO, 'BLOCKED', 2],
    [3, undefined, 'CONFIG_ERROR', 3],
  ] as const)('exit %s + summary %s → %s (exit %s)', (exit, s, decision, code) => {
    const v = targetVerdict(outcome(exit, s as Summary | undefined))
    expect([v.decision, v.exitCode]).toEqual([decision, code])
    if (!s) expect(v.note).toMatch(/no summary from run f-1-dev.yaml .*reports\/fleet\/f\/x.log/)
  })
})

describe('the fleet: one exit code, the worst target for an operator', () => {
  const v = (...codes: [number | null, Summary | undefined][]) => codes.map(([c, s]) => targetVerdict(outcome(c, s)))
  test.each([
    ['all GO', v([0, GO], [0, GO], [0, GO]), 0],
    ['one BLOCKED', v([0, GO], [2, BLOCKED], [0, GO]), 2],
    ['NO_GO over BLOCKED', v([2, BLOCKED], [1, NO_GO], [0, GO]), 1],
    ['a configuration error over everything', v([1, NO_GO], [3, CONFIG], [2, BLOCKED]), 3],
  ])('%s', (_, verdicts, code) => {
    expect(fleetExitCode(verdicts, false)).toBe(code)
  })
  test('an interrupted fleet is BLOCKED (2) whatever its targets found; an empty fleet is a usage error', () => {
    expect(fleetExitCode(v([1, NO_GO], [0, GO]), true)).toBe(2)
    expect(fleetExitCode(v([0, GO]), true)).toBe(2)
    expect(fleetExitCode([], false)).toBe(3)
  })
})

describe('the gate × target table', () => {
  const base = { fleetId: 'f', startedAt: 's', finishedAt: 'e', parallel: 2, command: 'closeout test …', interrupted: false }
  test('every gate any target ran, one cell per target, classification when it did not pass', () => {
    const r = buildFleetReport(base, [
      outcome(0, GO, 'dev.yaml'),
      outcome(1, { ...NO_GO, target: 'eu (fixtures/targets/eu.yaml)' }, 'eu.yaml'),
      outcome(null, undefined, 'stg.yaml'),
    ])
    expect(r.decision).toBe('NO_GO')
    expect(r.exitCode).toBe(1)
    expect(r.targets.map((t) => t.name)).toEqual(['dev', 'eu', 'stg.yaml'])
    expect(r.gates).toEqual([
      { gate: 'closeout/baseline', cells: ['PASS', 'PASS', 'no summary'] },
      { gate: 'closeout/consumer-freshness', cells: ['—', 'FAIL FRESHNESS_SLO_BREACHED', 'no summary'] },
    ])
    const md = formatFleetReport(r, true)
    expect(md).toContain('# Fleet f: NO_GO (exit 1)')
    expect(md).toMatch(/\| decision +\| GO \(exit 0\) +\| NO_GO \(exit 1\) +\| BLOCKED \(exit 2\) +\|/)
    expect(md).toContain('no summary from run f-1-stg.yaml')
    expect(formatFleetReport(r, false)).toMatch(/closeout\/consumer-freshness +— +FAIL FRESHNESS_SLO_BREACHED/)
  })
})

describe('job render with several --target: one Job per target', () => {
  type Obj = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are open YAML
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const targets = ['dev', 'stg', 'breach'].map((t) => `${root}fixtures/targets/local-fleet-${t}.yaml`)
  const now = new Date('2026-12-01T23:00:00Z')
  const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Obj)
  test('distinct Jobs and ConfigMaps, each Job reading its own profile and writing its own reports directory', () => {
    const all = docs(renderJobs({ targets, tags: ['closeout'], now, allowMutations: true }))
    const jobs = all.filter((d) => d.kind === 'Job')
    const maps = all.filter((d) => d.kind === 'ConfigMap')
    expect(jobs.map((j) => j.metadata.name)).toEqual([
      'closeout-closeout-20261201230000-1-local-fleet-dev',
      'closeout-closeout-20261201230000-2-local-fleet-stg',
      'closeout-closeout-20261201230000-3-local-fleet-breach',
    ])
    // the mutations Role and its binding once, not once per target
    expect(all.filter((d) => d.kind === 'Role').length).toBe(1)
    expect(all.filter((d) => d.kind === 'RoleBinding').length).toBe(1)
    const reportsDirs = new Set<string>()
    jobs.forEach((j, i) => {
      const pod = j.spec.template.spec
      const c = pod.containers[0]
      const cm = pod.volumes.find((v: Obj) => v.name === 'target').configMap.name
      expect(maps.find((m) => m.metadata.name === cm)?.data).toHaveProperty(`local-fleet-${['dev', 'stg', 'breach'][i]}.yaml`)
      expect(c.args).toContain(`/app/fixtures/targets/in-cluster/local-fleet-${['dev', 'stg', 'breach'][i]}.yaml`)
      const dir = c.env.filter((e: Obj) => e.name === 'CLOSEOUT_REPORTS_DIR')
      expect(dir).toEqual([{ name: 'CLOSEOUT_REPORTS_DIR', value: `/app/reports/${j.metadata.name}` }])
      reportsDirs.add(dir[0].value)
      expect(j.metadata.labels['closeout/fleet']).toBe('closeout-20261201230000')
      expect(j.spec.template.metadata.labels['closeout/fleet']).toBe('closeout-20261201230000')
    })
    expect(reportsDirs.size).toBe(3)
  })
  test('one --target renders exactly what a single render does; --run-id with several is refused', () => {
    const one = { tags: ['closeout'], now }
    expect(renderJobs({ ...one, targets: targets.slice(0, 1) })).toBe(renderJob({ ...one, target: targets[0] }))
    expect(() => renderJobs({ ...one, targets, runId: 'x' })).toThrow(JobUsageError)
  })
  test('a Job name stays within 63 characters and distinct when the profile part is cut', () => {
    const base = 'closeout-closeout-20261201230000'
    const long = 'a-very-long-profile-name-for-the-west-europe-region-production.yaml'
    const names = [0, 1].map((i) => fleetJobName(base, i, long))
    expect(names[0]).not.toBe(names[1])
    for (const n of names) expect(n).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
  })
})
