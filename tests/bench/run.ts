// pnpm bench: wall time of the full closeout suite against the local environment (median of N,
// process start to exit), per-gate durations, and exec round-trip p50/p95 through the harness's
// kube client. Results: reports/bench/<stamp>.json and reports/bench/latest.md. Never asserts.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpus, totalmem } from 'node:os'
import { loadProfile } from '../../helpers/profile.ts'
import { Kube, loadKubeConfig } from '../../helpers/kube.ts'
import type { Summary } from '../../helpers/decision.ts'

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const EXECS = Number(process.env.BENCH_EXECS ?? 50)

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  if (!s.length) return Number.NaN
  const i = (s.length - 1) * q
  const lo = Math.floor(i)
  const hi = Math.ceil(i)
  return Math.round(s[lo] + (s[hi] - s[lo]) * (i - lo))
}

function node(args: string[]) {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: process.env })
  return { code: r.status, ms: Math.round(performance.now() - t0), out: `${r.stdout}${r.stderr}` }
}

async function main(): Promise<void> {
  const up = node(['fixtures/local-env/env.ts', 'up'])
  if (up.code !== 0) throw new Error(`env up failed:\n${up.out}`)

  const wall: number[] = []
  const perGate = new Map<string, number[]>()
  const decisions: string[] = []
  for (let i = 0; i < RUNS; i++) {
    const runId = `bench-${Date.now()}-${i}`
    const r = node(['bin/test.ts', '--tag', 'closeout', '--run-id', runId, '--quiet'])
    wall.push(r.ms)
    const s = JSON.parse(readFileSync(join(ROOT, 'reports/runs', runId, 'summary.json'), 'utf8')) as Summary
    decisions.push(s.decision)
    for (const g of s.gates) perGate.set(g.id, [...(perGate.get(g.id) ?? []), g.durationMs])
    process.stdout.write(`closeout run ${i + 1}/${RUNS}: ${r.ms} ms, ${s.decision}\n`)
  }

  const profile = loadProfile(join(ROOT, 'fixtures/targets/local.yaml'))
  const kube = new Kube(loadKubeConfig({ kubeconfig: profile.kube.kubeconfig, context: profile.kube.context }), { namespace: profile.kube.namespace, timeoutMs: 10_000 })
  const execMs: number[] = []
  for (let i = 0; i < EXECS; i++) {
    const t0 = performance.now()
    const r = await kube.execInPod({ deployment: profile.consumer.deployment, container: profile.consumer.container, command: ['true'], timeoutMs: 10_000 })
    execMs.push(performance.now() - t0)
    if (r.exitCode !== 0) throw new Error(`exec failed: ${r.stderr}`)
  }

  const result = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    closeoutSuite: { runs: RUNS, decisions, wallMs: wall, medianMs: quantile(wall, 0.5) },
    gates: Object.fromEntries([...perGate].map(([id, xs]) => [id, { medianMs: quantile(xs, 0.5), p95Ms: quantile(xs, 0.95) }])),
    exec: { n: EXECS, p50Ms: quantile(execMs, 0.5), p95Ms: quantile(execMs, 0.95) },
  }
  const dir = join(ROOT, 'reports/bench')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `${result.at.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2))
  const md = [
    `Measured ${result.at} on ${result.machine.cpus} cores (${result.machine.model}), ${result.machine.memGiB} GiB, Node ${result.machine.node}.`,
    '',
    `| what | median | p95 |`,
    `|---|---|---|`,
    `| full closeout suite, process start to exit (${RUNS} runs: ${[...new Set(decisions)].join('/')}) | ${result.closeoutSuite.medianMs} ms | — |`,
    ...Object.entries(result.gates).map(([id, g]) => `| gate ${id} | ${g.medianMs} ms | ${g.p95Ms} ms |`),
    `| exec round trip through the harness (\`true\` in the consumer pod, n=${EXECS}) | ${result.exec.p50Ms} ms | ${result.exec.p95Ms} ms |`,
  ].join('\n')
  writeFileSync(join(dir, 'latest.md'), md + '\n')
  process.stdout.write(`\n${md}\n\nwritten: reports/bench/latest.md\n`)
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).message}\n`)
    process.exit(1)
  },
)
