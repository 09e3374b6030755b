// A run: its id, its selection, and the result of every gate, persisted as files so that
// `needs` works across spec files, a one-gate rerun (--run-id) appends to an earlier run, and a
// summary can be written from whatever exists when the run is interrupted.
import { mkdirSync, readFileSync, writeFileSync, renameSync, existsSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { SuiteName } from './suites.ts'
import { SUITES } from './suites.ts'

export type GateStatus = 'passed' | 'failed' | 'blocked' | 'skipped'

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
  startedAt: string
  finishedAt?: string
  tagsFilter: string | null
  selected: SelectedGate[]
  allowMutations: boolean
  allowDisruption: boolean
  /** a fatal problem before any gate ran (invalid profile, unknown tag…) */
  configError?: string
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

/** UTC yyyymmdd_HHMMSS (the seeds' evidence directory stamp). */
export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}_${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`
}

export function writeJsonAtomic(file: string, data: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`
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
