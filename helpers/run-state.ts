// A run on disk: its id, run.json (the one channel from the CLI to the workers: selection, flags,
// profile path and snapshot), the result of every gate, the run's lock, and its values. Files, so
// that `needs` and stop rules work across spec files, a one-gate rerun (--run-id) appends to an
// earlier run, and a summary can be written from whatever exists when the run is interrupted.

import { randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import type { SuiteName } from './suites.ts'
import { SUITES } from './suites.ts'

/** What a worker records for a gate (schemas/summary.schema.json lists these and the policy's 'waived'). */
export const GATE_STATUSES = ['passed', 'failed', 'blocked', 'skipped', 'interrupted', 'advisory'] as const
export type GateStatus = (typeof GATE_STATUSES)[number]

export interface GateResult {
  id: string
  suite: SuiteName
  status: GateStatus
  classification: string | null
  reason: string | null
  durationMs: number
  evidence: string | null
  startedAt: string
  finishedAt: string
}

export interface SelectedGate {
  id: string
  suite: SuiteName
  classification: string
  needs: string[]
  evidence: string
  title: string
}

export interface RunInfo {
  runId: string
  /** profile file and its name */
  target: { file: string; name: string; context?: string; namespace?: string }
  /** the validated profile's source document, ${VAR} references kept (never secret values), in the run dir */
  profileSnapshot?: string
  startedAt: string
  finishedAt?: string
  tagsFilter: string | null
  selected: SelectedGate[]
  allowMutations: boolean
  allowDisruption: boolean
  /** run the gates after a stop rule anyway, as advisory results that never change the decision */
  keepGoing?: boolean
  /** a fatal problem before any gate ran (invalid profile, unknown tag…) */
  configError?: string
  /** sticky: once interrupted, a run is never GO, whatever is appended to it later */
  interrupted?: boolean
  /** gates run in earlier invocations with the same run id stay in the summary */
  invocations: number
  /** retry metadata inputs, from the profile */
  owner: string
  retryAfterHours: number
  /** the command line of the latest invocation (recorded in the summaries) */
  command?: string
  /** every gate id of each suite in the catalogue: the E2-3 cutover decision needs all of them */
  suiteGates?: Partial<Record<SuiteName, string[]>>
  /** git commit and operator, for the report's environment block */
  gitCommit?: string
  operator?: string
}

export function reportsDir(root = process.cwd()): string {
  return resolve(process.env.CLOSEOUT_REPORTS_DIR || join(root, 'reports'))
}

export function runDir(runId: string, root?: string): string {
  return join(reportsDir(root), 'runs', runId)
}

export function bundleDir(runId: string, suite: SuiteName, root?: string): string {
  return join(reportsDir(root), 'evidence', `${runId}_${SUITES[suite].bundleSuffix}`)
}

/** UTC yyyymmdd_HHMMSS (the seeds' evidence directory stamp) plus a random suffix: two runs started
 * in the same second never share a bundle. */
export function newRunId(now = new Date(), suffix = randomBytes(3).toString('hex')): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}_${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}-${suffix}`
}

export function writeJsonAtomic(file: string, data: unknown): void {
  const tmp = `${file}.${process.pid}.${randomBytes(2).toString('hex')}.tmp`
  writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n')
  renameSync(tmp, file)
}

export function readRunInfo(runId: string, root?: string): RunInfo | undefined {
  const f = join(runDir(runId, root), 'run.json')
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as RunInfo) : undefined
}

export function writeRunInfo(info: RunInfo, root?: string): void {
  const d = runDir(info.runId, root)
  mkdirSync(join(d, 'gates'), { recursive: true })
  writeJsonAtomic(join(d, 'run.json'), info)
}

export function gateKey(suite: string, id: string): string {
  return `${suite}.${id}`
}

export function writeGateResult(runId: string, result: GateResult, root?: string): void {
  const d = join(runDir(runId, root), 'gates')
  mkdirSync(d, { recursive: true })
  writeJsonAtomic(join(d, `${gateKey(result.suite, result.id)}.json`), result)
}

export function readGateResult(runId: string, suite: string, id: string, root?: string): GateResult | undefined {
  const f = join(runDir(runId, root), 'gates', `${gateKey(suite, id)}.json`)
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as GateResult) : undefined
}

export function readGateResults(runId: string, root?: string): GateResult[] {
  const d = join(runDir(runId, root), 'gates')
  if (!existsSync(d)) return []
  return readdirSync(d)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')) as GateResult)
}

/** Raised when another live process holds the run: a second writer would interleave one bundle. */
export class RunLockedError extends Error {
  readonly pid: number
  constructor(runId: string, pid: number, since: string) {
    super(`run ${runId} is in use by process ${pid} (since ${since}): wait for it to finish, or start a new run without --run-id`)
    this.name = 'RunLockedError'
    this.pid = pid
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists under another user
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Take the run's lock (O_EXCL file with our pid). A lock whose process is gone is stale and taken
 * over. Returns the release function. */
export function lockRun(runId: string, root?: string, pid = process.pid): () => void {
  const d = runDir(runId, root)
  mkdirSync(d, { recursive: true })
  const file = join(d, 'lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx')
      writeSync(fd, JSON.stringify({ pid, since: new Date().toISOString() }))
      closeSync(fd)
      return () => rmSync(file, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let holder: { pid?: number; since?: string } = {}
      try {
        holder = JSON.parse(readFileSync(file, 'utf8')) as typeof holder
      } catch {
        /* half-written by a process that died: stale */
      }
      if (holder.pid && holder.pid !== pid && isAlive(holder.pid)) throw new RunLockedError(runId, holder.pid, holder.since ?? '?')
      rmSync(file, { force: true })
    }
  }
  throw new RunLockedError(runId, -1, 'unknown')
}

/** Where the worker finds its run: one file, named by the run id and the reports directory. */
export function runFileFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CLOSEOUT_RUN_FILE) return env.CLOSEOUT_RUN_FILE
  return env.CLOSEOUT_RUN_ID ? join(runDir(env.CLOSEOUT_RUN_ID), 'run.json') : undefined
}
