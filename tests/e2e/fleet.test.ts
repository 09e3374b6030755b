// A fleet run end to end (bin/test.ts → bin/fleet.ts → one bin/test.ts per target) against the local
// environment: three local targets, one with an injected fault (local-fleet-breach.yaml: freshness SLO
// 0.001 s); that target is NO_GO with exit 1 in its own summary, the others are GO and unaffected, and the
// fleet's exit code is the worst. A configuration error in one target makes the fleet 3. SIGINT reaches
// every running target: each writes its own interrupted summary, nothing of any run is left, the fleet exits 2.

import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import type { Summary } from '../../helpers/decision.ts'
import type { FleetReport } from '../../helpers/fleet.ts'
import { envUp, node, outcome, ROOT } from './_run.ts'

const T = (name: string) => `fixtures/targets/local-fleet-${name}.yaml`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const summaryOf = (runId: string): Summary | undefined => {
  const f = join(ROOT, 'reports/runs', runId, 'summary.json')
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Summary) : undefined
}
/** the fleet id from its first output line: "closeout fleet <id>: N target(s)…" */
const fleetIdOf = (stdout: string): string => /closeout fleet (\S+): \d+ target/.exec(stdout)?.[1] ?? ''
const fleetReport = (id: string): FleetReport =>
  JSON.parse(readFileSync(join(ROOT, 'reports/fleet', id, 'fleet.json'), 'utf8')) as FleetReport

/** pids of live processes that carry CLOSEOUT_RUN_ID=<runId> (bin/test.ts sets it for vitest and its workers) */
function processesOfRun(runId: string): number[] {
  const out: number[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`CLOSEOUT_RUN_ID=${runId}`)) out.push(Number(pid))
    } catch {
      /* gone, or not ours */
    }
  }
  return out
}

describe('a fleet of local targets', { timeout: 600_000 }, () => {
  beforeAll(() => {
    envUp([])
  })

  test('three targets, one with a fault: that one NO_GO (exit 1), the others GO and unaffected, the fleet exits 1', () => {
    const r = node(['bin/test.ts', '--tag', 'closeout', '--target', T('dev'), '--target', T('breach'), '--target', T('stg')])
    const id = fleetIdOf(r.stdout)
    expect(id, r.stdout + r.stderr).not.toBe('')
    const report = fleetReport(id)
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(report.exitCode).toBe(1)
    expect(report.decision).toBe('NO_GO')
    expect(report.targets.map((t) => [t.name, t.decision, t.exitCode])).toEqual([
      ['local-dev', 'GO', 0],
      ['local-breach', 'NO_GO', 1],
      ['local-stg', 'GO', 0],
    ])
    // each target is its own run, with its own summary and bundle
    const runs = report.targets.map((t) => summaryOf(t.runId) as Summary)
    expect(new Set(report.targets.map((t) => t.runId)).size).toBe(3)
    expect(new Set(runs.map((s) => s.bundles.closeout)).size).toBe(3)
    const freshness = (s: Summary) => outcome(s)['consumer-freshness']
    expect(runs.map(freshness)).toEqual(['passed', 'failed:FRESHNESS_SLO_BREACHED', 'passed'])
    for (const s of [runs[0], runs[2]]) expect(Object.values(outcome(s)).every((o) => o === 'passed')).toBe(true)
    // the aggregate: every closeout gate a row, the fault in its cell, printed and in fleet.md
    expect(report.gates.find((g) => g.gate === 'closeout/consumer-freshness')?.cells).toEqual([
      'PASS',
      'FAIL FRESHNESS_SLO_BREACHED',
      'PASS',
    ])
    expect(report.gates.length).toBe(runs[0].gates.length)
    const md = readFileSync(join(ROOT, 'reports/fleet', id, 'fleet.md'), 'utf8')
    expect(md).toContain(`# Fleet ${id}: NO_GO (exit 1)`)
    expect(readFileSync(join(ROOT, 'reports/fleet/latest/fleet.md'), 'utf8')).toBe(md)
    expect(r.stdout).toMatch(/closeout\/consumer-freshness +PASS +FAIL FRESHNESS_SLO_BREACHED +PASS/)
  })

  test('a configuration error in one target (a missing profile) makes the fleet 3, over the NO_GO of another', () => {
    const r = node(['bin/test.ts', '--tag', 'closeout', '--target', 'fixtures/targets/no-such-target.yaml', '--target', T('breach')])
    const report = fleetReport(fleetIdOf(r.stdout))
    expect(report.targets.map((t) => [t.decision, t.exitCode])).toEqual([
      ['CONFIG_ERROR', 3],
      ['NO_GO', 1],
    ])
    expect(summaryOf(report.targets[0].runId)?.configError).toMatch(/no-such-target\.yaml/)
    expect(r.code).toBe(3)
  })

  test('SIGINT: every running target stops and writes its own interrupted summary, the rest never start, the fleet exits 2', async () => {
    const child = spawn(
      process.execPath,
      ['bin/test.ts', '--tag', 'closeout', '--parallel', '2', '--target', T('dev'), '--target', T('stg'), '--target', T('breach')],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)))
    // both running targets are inside their gates (a provisional gate result is on disk for each)
    const started = () => [...out.matchAll(/→ run (\S+) \(log/g)].map((m) => m[1])
    const inGates = (id: string) => existsSync(join(ROOT, 'reports/runs', id, 'gates', 'closeout.baseline.json'))
    const end = Date.now() + 120_000
    while (!(started().length === 2 && started().every(inGates))) {
      if (Date.now() > end) throw new Error(`the two targets did not reach their gates:\n${out}`)
      await sleep(100)
    }
    child.kill('SIGINT')
    const code = await exited
    expect(code, out).toBe(2)
    const report = fleetReport(fleetIdOf(out))
    expect(report.interrupted).toBe(true)
    expect(report.exitCode).toBe(2)
    const [a, b, c] = report.targets
    for (const t of [a, b]) {
      const s = summaryOf(t.runId)
      expect(s?.interrupted, t.runId).toBe(true)
      expect(s?.decision).toBe('BLOCKED')
    }
    // the third target was never started: no run, BLOCKED in the table, said so
    expect(summaryOf(c.runId)).toBeUndefined()
    expect(c.decision).toBe('BLOCKED')
    await sleep(1000)
    expect([a, b].flatMap((t) => processesOfRun(t.runId))).toEqual([])
  })
})
