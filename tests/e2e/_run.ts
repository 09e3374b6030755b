// Helpers for the end-to-end tests: drive `./closeout env` and `pnpm test` exactly as a user does
// (same entry points, same exit codes) and read back the run's summary and bundle.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Summary } from '../../helpers/decision.ts'

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))

let counter = 0
export function uniqueRunId(label: string): string {
  const d = new Date()
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${label}-${++counter}`
}

export interface CmdResult {
  code: number | null
  stdout: string
  stderr: string
}

export function node(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 600_000): CmdResult {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs })
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}

export function envUp(faults: string[] = []): CmdResult {
  const r = node(['fixtures/local-env/env.ts', 'up', ...faults.flatMap((f) => ['--fault', f])])
  if (r.code !== 0) throw new Error(`env up ${faults.join(',')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`)
  return r
}

export function envDown(): CmdResult {
  return node(['fixtures/local-env/env.ts', 'down'])
}

export interface SuiteRun extends CmdResult {
  runId: string
  summary: Summary
}

export function runGates(args: string[], env: NodeJS.ProcessEnv = {}): SuiteRun {
  const runId = args.includes('--run-id') ? args[args.indexOf('--run-id') + 1] : uniqueRunId('e2e')
  const full = args.includes('--run-id') ? args : [...args, '--run-id', runId]
  const r = node(['bin/test.ts', ...full, '--quiet'], env)
  const file = join(ROOT, 'reports', 'runs', runId, 'summary.json')
  if (!existsSync(file)) throw new Error(`no summary for run ${runId} (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  return { ...r, runId, summary: JSON.parse(readFileSync(file, 'utf8')) as Summary }
}

/** gate id → "status" or "status:CLASSIFICATION" */
export function outcome(s: Summary, suite?: string): Record<string, string> {
  return Object.fromEntries(
    s.gates.filter((g) => !suite || g.suite === suite).map((g) => [g.id, g.classification ? `${g.status}:${g.classification}` : g.status]),
  )
}

export function spawnGates(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, ['bin/test.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** A copy of the local profile whose kubeconfig signs in with `token` (a runner bound to a test Role). */
export function runnerProfile(prefix: string, token: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const kubeconfig = join(dir, 'kubeconfig')
  writeFileSync(kubeconfig, readFileSync(join(ROOT, 'reports/local-env/kubeconfig'), 'utf8').replace(/token: .*/, `token: ${token}`))
  const profile = join(dir, 'runner.yaml')
  writeFileSync(
    profile,
    readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8').replace(/kubeconfig: .*/, `kubeconfig: ${kubeconfig}`),
  )
  return profile
}
