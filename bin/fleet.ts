// A fleet run: `closeout test --tag closeout --target a.yaml --target b.yaml … [--parallel N]` (bin/test.ts
// hands over here when --target is given more than once, or --parallel at all). One bin/test.ts process per
// target — so each target has exactly the single-run behaviour: its own run id, lock, bundle, summary and
// decision — at most N at once; each child's output goes to reports/fleet/<id>/<run id>.log. Then the
// aggregate (gate × target) is printed and written to reports/fleet/<id>/fleet.json and fleet.md, and the
// fleet exits with the worst target's code (helpers/fleet.ts fleetExitCode). SIGINT/SIGTERM go to every
// running child (each stops its gates and writes its own summary), targets not started yet are not started,
// and the fleet exits 2.
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Summary } from '../helpers/decision.ts'
import { EXIT_CODES } from '../helpers/decision.ts'
import { commandLine } from '../helpers/evidence.ts'
import {
  buildFleetReport,
  FLEET_USAGE,
  type FleetArgs,
  formatFleetReport,
  parseFleetArgs,
  type TargetOutcome,
  targetRunId,
} from '../helpers/fleet.ts'
import { newRunId, reportsDir, runDir, writeJsonAtomic } from '../helpers/run-state.ts'
import { UsageError } from '../helpers/tags.ts'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

function readSummary(runId: string): Summary | undefined {
  const file = join(runDir(runId, ROOT), 'summary.json')
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Summary) : undefined
  } catch {
    return undefined // a torn or foreign file: the verdict says "no summary", never GO
  }
}

/** The running children; a signal reaches each one once (each bin/test.ts stops its own vitest group). */
class Fleet {
  readonly running = new Set<ChildProcess>()
  interrupted = false
  interrupt(sig: NodeJS.Signals): void {
    if (this.interrupted) return
    this.interrupted = true
    process.stderr.write(`\ncloseout fleet: ${sig} received — stopping ${this.running.size} running target(s); each writes its summary…\n`)
    for (const c of this.running) c.kill(sig)
  }
  /** bin/test.ts for one target, output to its log; resolves with its exit code (null: killed by a signal) */
  run(args: string[], log: string): Promise<number | null> {
    const fd = openSync(log, 'a')
    // detached: the child is not in our process group, so a terminal Ctrl-C reaches it through interrupt()
    // exactly once (bin/test.ts would treat a second signal as a second interrupt all the same)
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'test.ts'), ...args], {
      cwd: ROOT,
      env: process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    })
    closeSync(fd)
    this.running.add(child)
    return new Promise((res) => {
      child.on('error', (e) => {
        writeFileSync(log, `closeout fleet: could not start bin/test.ts: ${e.message}\n`, { flag: 'a' })
        this.running.delete(child)
        res(null)
      })
      child.on('exit', (code) => {
        this.running.delete(child)
        res(code)
      })
    })
  }
}

async function runTargets(a: FleetArgs, fleetId: string, dir: string, fleet: Fleet): Promise<TargetOutcome[]> {
  const outcomes: TargetOutcome[] = a.targets.map((target, i) => {
    const runId = targetRunId(fleetId, i, target)
    return { target, runId, exitCode: null, log: relative(ROOT, join(dir, `${runId}.log`)) }
  })
  let next = 0
  const worker = async () => {
    while (next < outcomes.length && !fleet.interrupted) {
      const o = outcomes[next++]
      if (!a.quiet) process.stdout.write(`closeout fleet: ${o.target} → run ${o.runId} (log ${o.log})\n`)
      o.exitCode = await fleet.run([...a.passArgs, '--target', o.target, '--run-id', o.runId], join(ROOT, o.log))
      o.summary = readSummary(o.runId)
      // bundle paths as the operator sees them (relative to the checkout), like bin/test.ts prints them
      if (o.summary)
        o.summary = { ...o.summary, bundles: Object.fromEntries(Object.entries(o.summary.bundles).map(([k, d]) => [k, relative(ROOT, d)])) }
      if (!a.quiet)
        process.stdout.write(`closeout fleet: ${o.target} → ${o.summary?.decision ?? 'no summary'} (exit ${o.exitCode ?? 'signal'})\n`)
    }
  }
  await Promise.all(Array.from({ length: Math.min(a.parallel, outcomes.length) }, worker))
  // a target never started because of an interrupt has no run: say so rather than leave it out
  for (const o of outcomes.slice(next))
    if (!existsSync(join(ROOT, o.log))) writeFileSync(join(ROOT, o.log), 'not started: the fleet was interrupted\n')
  return outcomes
}

/** The fleet entry (bin/test.ts main() calls it with its argv); resolves with the fleet's exit code. */
export async function runFleet(argv: string[]): Promise<number> {
  let a: FleetArgs
  try {
    a = parseFleetArgs(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`closeout: ${err.message}\n`)
    return EXIT_CODES.USAGE
  }
  if (a.help) {
    process.stdout.write(FLEET_USAGE + '\n')
    return 0
  }
  // bin/test.ts's "signal before vitest" handler exits at once; a fleet must instead stop its children
  process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM')
  const fleet = new Fleet()
  process.on('SIGINT', () => fleet.interrupt('SIGINT'))
  process.on('SIGTERM', () => fleet.interrupt('SIGTERM'))
  // nothing of the fleet may outlive it (a crash of this process): children get SIGTERM and write a summary
  process.on('exit', () => {
    for (const c of fleet.running) c.kill('SIGTERM')
  })
  const fleetId = newRunId()
  const dir = join(reportsDir(ROOT), 'fleet', fleetId)
  mkdirSync(dir, { recursive: true })
  // one Allure results directory for the whole fleet: cleared here once, never by a target (bin/test.ts reads
  // CLOSEOUT_FLEET_ID), so two targets starting together cannot wipe the results the other is writing
  rmSync(join(reportsDir(ROOT), 'allure-results'), { recursive: true, force: true, maxRetries: 3 })
  process.env.CLOSEOUT_FLEET_ID = fleetId
  const startedAt = new Date().toISOString()
  const command = commandLine(['closeout', 'test', ...argv.filter((x) => x !== '--' && x !== '--quiet')])
  if (!a.quiet) process.stdout.write(`closeout fleet ${fleetId}: ${a.targets.length} target(s), at most ${a.parallel} at once\n`)
  const outcomes = await runTargets(a, fleetId, dir, fleet)
  const report = buildFleetReport(
    { fleetId, startedAt, finishedAt: new Date().toISOString(), parallel: a.parallel, command, interrupted: fleet.interrupted },
    outcomes,
  )
  writeJsonAtomic(join(dir, 'fleet.json'), report)
  writeFileSync(join(dir, 'fleet.md'), formatFleetReport(report, true))
  // reports/latest/summary.json is whichever target finished last: the fleet's own latest is beside its runs
  const latest = join(reportsDir(ROOT), 'fleet', 'latest')
  mkdirSync(latest, { recursive: true })
  writeJsonAtomic(join(latest, 'fleet.json'), report)
  writeFileSync(join(latest, 'fleet.md'), formatFleetReport(report, true))
  process.stdout.write(`\n${formatFleetReport(report, false)}\nfleet report: ${relative(ROOT, join(dir, 'fleet.md'))} (and fleet.json)\n`)
  return report.exitCode
}
