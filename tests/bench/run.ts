// ./closeout bench [--readme]: against the local environment, in one run —
// - the closeout and rehearsal suites the way operators run them (`pnpm test --tag SUITE`, process start to
//   exit, median of N), in rounds (every variant once per round, after one discarded warm-up round), and in
//   the same rounds the kubectl-per-check shell baseline of the F3-4 plan (tests/bench/baseline-closeout.sh):
//   the ratio closeout / baseline;
// - each gate's duration and the harness's own overhead (wall − Σ gates);
// - exec through the harness vs `kubectl exec -- true` in the same consumer pod, alternating, as a ratio;
// - peak RSS of the largest process of a run (GNU time, when installed);
// - where the time goes: a CPU profile of every process of one closeout run, and import timings.
// Results: reports/bench/<stamp>.json and reports/bench/latest.md; --readme also rewrites the README's
// performance block. Never asserts: figures, not pass/fail.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { $ } from 'zx'
import { defineCommand, runMain, UsageError } from '../../bin/_cli.ts'
import type { Summary } from '../../helpers/decision.ts'
import { measureImports, type ProcessProfile, renderWhereTimeGoes, summariseCpuProfiles } from './profile.ts'

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const GNU_TIME = '/usr/bin/time'
const BASELINE = join(ROOT, 'tests/bench/baseline-closeout.sh')

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  if (!s.length) return Number.NaN
  const i = (s.length - 1) * q
  const lo = Math.floor(i)
  const hi = Math.ceil(i)
  return Math.round(s[lo] + (s[hi] - s[lo]) * (i - lo))
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && existsSync(join(dir, cmd))) return join(dir, cmd)
  return undefined
}

interface Timed {
  code: number | null
  ms: number
  /** peak resident set of the largest process of the tree, from wait4's rusage (GNU time %M) */
  maxRssKiB: number | null
  out: string
}

/** Runs argv from the repository root; wall time from spawn to exit, measured here. */
async function timed(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Timed> {
  const tmp = mkdtempSync(join(tmpdir(), 'closeout-bench-'))
  const rssFile = join(tmp, 'rss')
  const full = existsSync(GNU_TIME) ? [GNU_TIME, '-f', '%M', '-o', rssFile, ...argv] : argv
  const t0 = performance.now()
  const r = await $({ cwd: ROOT, env, quiet: true, nothrow: true, timeout: '10m' })`${full}`
  const ms = Math.round(performance.now() - t0)
  const rss = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : Number.NaN
  rmSync(tmp, { recursive: true, force: true })
  return { code: r.exitCode, ms, maxRssKiB: Number.isFinite(rss) ? rss : null, out: r.stdall }
}

interface SuiteBench {
  command: string
  variant?: string
  runs: number
  decisions: string[]
  wallMs: number[]
  medianMs: number
  /** wall − Σ gate durations; null for the shell baseline (it has no gates) */
  overheadMedianMs: number | null
  maxRssMiB: number | null
  gates: Record<string, { medianMs: number; p95Ms: number }>
}

interface Variant {
  key: string
  /** the suite run through the harness; absent for the shell baseline */
  suite?: string
  /** the catalogue cache removed before each run (the first run after an edit of a spec or helper) */
  coldCatalog?: boolean
}

interface Run {
  r: Timed
  decision: string
  gates: { id: string; durationMs: number }[]
}

interface LocalEnv {
  kubeconfig: string
  ports: { api: number; eventhubs: number }
}

const readEnvJson = () => JSON.parse(readFileSync(join(ROOT, 'reports/local-env/env.json'), 'utf8')) as LocalEnv

/** The baseline's environment: the local environment's kubeconfig, the API pod's port, the Event Hubs stand-in. */
function baselineEnv(): NodeJS.ProcessEnv {
  const e = readEnvJson()
  return {
    ...process.env,
    KUBECONFIG: e.kubeconfig,
    API_URL: `http://127.0.0.1:${e.ports.api}`,
    EVENTHUBS_HOST: '127.0.0.1',
    EVENTHUBS_PORT: String(e.ports.eventhubs),
  }
}

function commandOf(v: Variant, pnpm: string | undefined): string[] {
  if (!v.suite) return ['bash', BASELINE]
  // the operator's command; without pnpm on PATH (bench started by plain node) the script it runs
  return [...(pnpm ? [pnpm, 'test'] : [process.execPath, 'bin/test.ts']), '--tag', v.suite]
}

async function runOnce(v: Variant, pnpm: string | undefined, label: string): Promise<Run> {
  if (!v.suite) {
    const r = await timed(commandOf(v, pnpm), baselineEnv())
    if (r.code !== 0) throw new Error(`the shell baseline failed (exit ${r.code}) on run ${label}: ${r.out.slice(-600)}`)
    return { r, decision: 'all checks passed', gates: [] }
  }
  const runId = `bench-${v.key}-${Date.now()}-${label}`
  if (v.coldCatalog) rmSync(join(ROOT, 'reports/.cache/catalog.json'), { force: true })
  const r = await timed([...commandOf(v, pnpm), '--run-id', runId, '--quiet'])
  const file = join(ROOT, 'reports/runs', runId, 'summary.json')
  if (!existsSync(file)) throw new Error(`${v.key} run ${label} wrote no summary (exit ${r.code}):\n${r.out.slice(-2000)}`)
  const s = JSON.parse(readFileSync(file, 'utf8')) as Summary
  return { r, decision: s.decision, gates: s.gates }
}

function toSuiteBench(v: Variant, pnpm: string | undefined, runs: Run[]): SuiteBench {
  const wall = runs.map((x) => x.r.ms)
  const rss = runs.map((x) => x.r.maxRssKiB).filter((x): x is number => x !== null)
  const perGate = new Map<string, number[]>()
  for (const x of runs) for (const g of x.gates) perGate.set(g.id, [...(perGate.get(g.id) ?? []), g.durationMs])
  return {
    command: v.suite ? `${pnpm ? 'pnpm test' : 'node bin/test.ts'} --tag ${v.suite}` : `bash tests/bench/baseline-closeout.sh`,
    variant: v.coldCatalog
      ? 'catalogue cache cold, as after an edit of a spec or helper'
      : v.suite
        ? undefined
        : 'the F3-4 checks the runbook way: one kubectl process per check, no evidence, no registry or monitoring query',
    runs: runs.length,
    decisions: runs.map((x) => x.decision),
    wallMs: wall,
    medianMs: quantile(wall, 0.5),
    overheadMedianMs: v.suite
      ? quantile(
          runs.map((x) => x.r.ms - x.gates.reduce((n, g) => n + g.durationMs, 0)),
          0.5,
        )
      : null,
    maxRssMiB: rss.length ? Math.round(Math.max(...rss) / 1024) : null,
    gates: Object.fromEntries([...perGate].map(([id, xs]) => [id, { medianMs: quantile(xs, 0.5), p95Ms: quantile(xs, 0.95) }])),
  }
}

/** Runs every variant once per round, `rounds` rounds, so that each sees the same machine state (a block
 * of one variant after another would fold warm-up and drift into the comparison). */
async function benchVariants(variants: Variant[], pnpm: string | undefined, rounds: number): Promise<Record<string, SuiteBench>> {
  const acc = new Map<string, Run[]>(variants.map((v) => [v.key, []]))
  // one discarded round: the first runs after env up also pay for the stack's own start-up
  for (const v of variants) await runOnce(v, pnpm, 'warmup')
  for (let i = 0; i < rounds; i++) {
    for (const v of variants) {
      const run = await runOnce(v, pnpm, String(i))
      acc.get(v.key)?.push(run)
      process.stdout.write(`${v.key} run ${i + 1}/${rounds}: ${run.r.ms} ms, ${run.decision}\n`)
    }
  }
  return Object.fromEntries(variants.map((v) => [v.key, toSuiteBench(v, pnpm, acc.get(v.key) ?? [])]))
}

interface ExecBench {
  n: number
  harness: { p50Ms: number; p95Ms: number }
  kubectl: { p50Ms: number; p95Ms: number }
  /** harness p50 / kubectl p50 */
  ratio: number
}

/** `true` in the consumer pod, n times through the harness's kube client and n times with `kubectl exec`,
 * alternating, so both see the same pod and the same machine state. */
async function benchExec(n: number): Promise<ExecBench> {
  // imported here: `./closeout bench --help` loads no Kubernetes client
  const { loadProfile } = await import('../../helpers/profile.ts')
  const { Kube, loadKubeConfig } = await import('../../helpers/kube.ts')
  const profile = loadProfile(join(ROOT, 'fixtures/targets/local.yaml'))
  const kube = new Kube(loadKubeConfig({ kubeconfig: profile.kube.kubeconfig, context: profile.kube.context }), {
    namespace: profile.kube.namespace,
    timeoutMs: 10_000,
  })
  const { deployment, container } = profile.consumer
  const kubectl = $({
    cwd: ROOT,
    quiet: true,
    nothrow: true,
    timeout: '20s',
    env: { ...process.env, KUBECONFIG: readEnvJson().kubeconfig },
  })
  const h: number[] = []
  const k: number[] = []
  for (let i = 0; i < n; i++) {
    let t0 = performance.now()
    const r = await kube.execInPod({ deployment, container, command: ['true'], timeoutMs: 10_000 })
    h.push(performance.now() - t0)
    if (r.exitCode !== 0) throw new Error(`exec of "true" in ${deployment} exited ${r.exitCode}: ${r.stderr}`)
    t0 = performance.now()
    const kr = await kubectl`kubectl -n ${profile.kube.namespace} exec deploy/${deployment} -c ${container} -- true`
    k.push(performance.now() - t0)
    if (kr.exitCode !== 0) throw new Error(`kubectl exec deploy/${deployment} -- true exited ${kr.exitCode}: ${kr.stderr.trim()}`)
  }
  const harness = { p50Ms: quantile(h, 0.5), p95Ms: quantile(h, 0.95) }
  const kc = { p50Ms: quantile(k, 0.5), p95Ms: quantile(k, 0.95) }
  return { n, harness, kubectl: kc, ratio: Math.round((harness.p50Ms / kc.p50Ms) * 100) / 100 }
}

/** One closeout run with every Node process CPU-profiled; the profiles summarised per process. */
async function profileRun(pnpm: string | undefined): Promise<{ command: string; processes: ProcessProfile[]; dir: string }> {
  const dir = join(ROOT, 'reports/bench/cpu-profile')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const v: Variant = { key: 'closeout', suite: 'closeout' }
  const argv = [...commandOf(v, pnpm), '--run-id', `bench-profile-${Date.now()}`, '--quiet']
  const preload = pathToFileURL(join(ROOT, 'tests/bench/cpu-prof-exit.mjs')).href
  const env = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir} --import=${preload}`.trim(),
  }
  const r = await timed(argv, env)
  if (r.code !== 0 && r.code !== 1 && r.code !== 2)
    throw new Error(`the profiled closeout run failed (exit ${r.code}): ${r.out.slice(-800)}`)
  return { command: argv.join(' ').replace(ROOT, '.'), processes: summariseCpuProfiles(dir, ROOT), dir }
}

interface FleetBench {
  targets: number
  parallel: number
  command: string
  wallMs: number
  decision: string
  /** wall / targets: what one more target costs at this concurrency */
  perTargetMs: number
}

/** A fleet of n closeout runs against the one local environment (`--target local.yaml` n times, --parallel 2:
 * the fleet default), once per size, so the table shows how the wall time grows with the number of targets. */
async function benchFleet(sizes: number[]): Promise<FleetBench[]> {
  const out: FleetBench[] = []
  for (const n of sizes) {
    const args = [
      '--tag',
      'closeout',
      '--parallel',
      '2',
      ...Array.from({ length: n }, () => ['--target', 'fixtures/targets/local.yaml']).flat(),
    ]
    const r = await timed([process.execPath, 'bin/test.ts', ...args, '--quiet'])
    const id = /fleet report: reports\/fleet\/(\S+)\/fleet\.md/.exec(r.out)?.[1]
    if (!id) throw new Error(`the fleet of ${n} wrote no fleet report (exit ${r.code}):\n${r.out.slice(-2000)}`)
    const report = JSON.parse(readFileSync(join(ROOT, 'reports/fleet', id, 'fleet.json'), 'utf8')) as { decision: string }
    out.push({
      targets: n,
      parallel: 2,
      command: `closeout test --tag closeout --parallel 2 --target local.yaml ×${n}`,
      wallMs: r.ms,
      decision: report.decision,
      perTargetMs: Math.round(r.ms / n),
    })
    process.stdout.write(`fleet of ${n}: ${r.ms} ms, ${report.decision}\n`)
  }
  return out
}

interface BenchResult {
  at: string
  machine: { cpus: number; model?: string; memGiB: number; node: string; loadavg1m: number }
  suites: Record<string, SuiteBench>
  ratioCloseoutToBaseline: number | null
  exec: ExecBench
  fleet?: FleetBench[]
  profile?: { command: string; processes: ProcessProfile[] }
  imports?: Awaited<ReturnType<typeof measureImports>>
}

function renderSuites(r: BenchResult): string[] {
  const lines = ['| what | median | p95 |', '|---|---|---|']
  for (const [key, s] of Object.entries(r.suites)) {
    lines.push(
      `| **\`${s.command}\`**${s.variant ? ` (${s.variant})` : ''}, process start to exit (${s.runs} runs, ${[...new Set(s.decisions)].join('/')}) | **${s.medianMs} ms** | ${quantile(s.wallMs, 0.95)} ms |`,
    )
    if (s.overheadMedianMs !== null)
      lines.push(
        `| ${key}: harness overhead (wall − Σ gate durations: pnpm, vitest start, imports, summary, manifest) | ${s.overheadMedianMs} ms | — |`,
      )
    if (key.endsWith('-cold-catalog')) continue
    for (const [id, g] of Object.entries(s.gates)) lines.push(`| ${key} gate \`${id}\` | ${g.medianMs} ms | ${g.p95Ms} ms |`)
  }
  const e = r.exec
  lines.push(
    `| exec round trip through the harness (\`true\` in the consumer pod over WebSocket v5, n=${e.n}) | ${e.harness.p50Ms} ms (p50) | ${e.harness.p95Ms} ms |`,
  )
  lines.push(
    `| \`kubectl exec deploy/… -- true\`, same pod, alternating with the above (n=${e.n}) | ${e.kubectl.p50Ms} ms (p50) | ${e.kubectl.p95Ms} ms |`,
  )
  for (const f of r.fleet ?? [])
    lines.push(
      `| fleet of ${f.targets} target(s): \`${f.command}\` (one run, ${f.decision}; the same local environment each time) | **${f.wallMs} ms** (${f.perTargetMs} ms per target) | — |`,
    )
  return lines
}

export function renderMarkdown(r: BenchResult): string {
  const m = r.machine
  const lines = [
    `Measured by \`./closeout bench\` at ${r.at} on ${m.cpus} cores (${m.model ?? 'unknown CPU'}), ${m.memGiB} GiB, Node ${m.node}, load average ${m.loadavg1m} at the start, local environment up with no fault; one run, so the figures compare with each other (not with another machine, or this one under another load).`,
    ...(m.loadavg1m > m.cpus
      ? [
          '',
          `**The machine was busy (load average ${m.loadavg1m} on ${m.cpus} cores): absolute times are inflated; the ratios, measured in the same rounds, are the figures to compare.**`,
        ]
      : []),
    '',
    ...renderSuites(r),
    '',
  ]
  const c = r.suites.closeout
  const b = r.suites['closeout-baseline']
  const targets: string[] = []
  if (r.ratioCloseoutToBaseline !== null && c && b)
    targets.push(`closeout / shell baseline **${r.ratioCloseoutToBaseline}x** (${c.medianMs} / ${b.medianMs} ms; target ≤ 1.0x)`)
  if (c?.overheadMedianMs != null) targets.push(`harness overhead **${c.overheadMedianMs} ms** (target ≤ 800 ms)`)
  targets.push(`exec harness / kubectl **${r.exec.ratio}x** (target ≤ 0.1x)`)
  if (r.fleet?.length)
    targets.push(`fleet wall ${r.fleet.map((f) => `${f.targets} target(s) **${f.wallMs} ms**`).join(', ')} (--parallel 2)`)
  if (r.suites.rehearsal) targets.push(`rehearsal wall **${r.suites.rehearsal.medianMs} ms** (target ≤ 6000 ms)`)
  const rss = Object.entries(r.suites).filter(([k, s]) => s.maxRssMiB !== null && k !== 'closeout-baseline')
  if (rss.length)
    targets.push(
      `peak RSS (largest process of a run, GNU time) ${rss.map(([k, s]) => `${k} **${s.maxRssMiB} MiB**`).join(', ')} (target ≤ 150 MiB)`,
    )
  lines.push(`Against the issue-12 targets: ${targets.join('; ')}.`)
  if (r.profile && r.imports) lines.push('', renderWhereTimeGoes(r.profile.processes, r.imports, r.profile.command))
  return lines.join('\n')
}

/** Replaces the README's <!-- bench:start --> … <!-- bench:end --> block. */
export function withBenchBlock(readme: string, md: string): string {
  const start = '<!-- bench:start -->'
  const end = '<!-- bench:end -->'
  const a = readme.indexOf(start)
  const b = readme.indexOf(end)
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} … ${end} block to rewrite`)
  return `${readme.slice(0, a + start.length)}\n${md}\n${readme.slice(b)}`
}

interface BenchOptions {
  readme: boolean
  rounds: number
  execs: number
  suites: string[]
  profile: boolean
  fleetSizes: number[]
}

async function runBench(o: BenchOptions): Promise<number> {
  const up = await timed([process.execPath, 'fixtures/local-env/env.ts', 'up'])
  if (up.code !== 0) throw new Error(`./closeout env up failed:\n${up.out}`)
  const pnpm = onPath('pnpm')
  const variants: Variant[] = o.suites.map((s) => ({ key: s, suite: s }))
  if (o.suites.includes('closeout')) {
    // the same checks the runbook way, in the same rounds; and the closeout when the catalogue must be rebuilt
    variants.splice(variants.findIndex((v) => v.key === 'closeout') + 1, 0, { key: 'closeout-baseline' })
    variants.push({ key: 'closeout-cold-catalog', suite: 'closeout', coldCatalog: true })
  }
  const at = new Date().toISOString()
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model.trim(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavg1m: Math.round(loadavg()[0] * 10) / 10,
  }
  const suites = await benchVariants(variants, pnpm, o.rounds)
  const exec = await benchExec(o.execs)
  const fleet = o.fleetSizes.length ? await benchFleet(o.fleetSizes) : undefined
  const c = suites.closeout
  const b = suites['closeout-baseline']
  const result: BenchResult = {
    at,
    machine,
    suites,
    ratioCloseoutToBaseline: c && b ? Math.round((c.medianMs / b.medianMs) * 100) / 100 : null,
    exec,
    ...(fleet ? { fleet } : {}),
  }
  if (o.profile) {
    const p = await profileRun(pnpm)
    result.profile = { command: p.command, processes: p.processes }
    result.imports = await measureImports(ROOT)
  }
  const dir = join(ROOT, 'reports/bench')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `${at.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2))
  const md = renderMarkdown(result)
  writeFileSync(join(dir, 'latest.md'), `${md}\n`)
  process.stdout.write(
    `\n${md}\n\nwritten: reports/bench/latest.md${o.profile ? ', reports/bench/cpu-profile/*.cpuprofile (open in Chrome DevTools)' : ''}\n`,
  )
  if (o.readme) {
    const f = join(ROOT, 'README.md')
    writeFileSync(f, withBenchBlock(readFileSync(f, 'utf8'), md))
    process.stdout.write('written: the README performance block\n')
  }
  return 0
}

const positiveInt = (name: string, v: string | undefined, dflt: number) => {
  const n = Number(v ?? dflt)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} needs a whole number ≥ 1, got ${v}`)
  return n
}

function toSuites(list: string): string[] {
  const suites = list.split(',').filter(Boolean)
  const unknown = suites.filter((x) => !['closeout', 'rehearsal', 'readiness'].includes(x))
  if (unknown.length || !suites.length)
    throw new UsageError(`--suites: ${unknown.join(', ') || 'none given'}; use closeout, rehearsal and/or readiness`)
  return suites
}

function toFleetSizes(list: string): number[] {
  if (list === 'none') return []
  const sizes = list.split(',').map((x) => Number(x.trim()))
  if (!sizes.length || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 32))
    throw new UsageError(`--fleet "${list}": a list of whole numbers from 1 to 32 (1,4,8), or none`)
  return sizes
}

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'benchmarks against the local environment → reports/bench/ [--readme]',
  usage: `usage: ./closeout bench [--readme] [--runs N] [--execs N] [--suites closeout,rehearsal] [--no-profile]

  --readme       also rewrite the README's performance block
  --runs N       measured rounds, every variant once per round (default $BENCH_RUNS or 5)
  --execs N      exec round trips, harness and kubectl each (default $BENCH_EXECS or 50)
  --suites LIST  suites to time (default $BENCH_SUITES or closeout,rehearsal); closeout brings the shell baseline
  --no-profile   skip the CPU profile and import timings
  --fleet LIST   fleet sizes to time, closeout against the local environment N times at --parallel 2
                 (default $BENCH_FLEET or 1,4,8; --fleet none skips them)
Starts the local environment when it is down (CLOSEOUT_PORT_BASE applies). Exit 0 measured, 1 a run failed.`,
  options: {
    readme: { type: 'boolean' },
    runs: { type: 'string' },
    execs: { type: 'string' },
    suites: { type: 'string' },
    'no-profile': { type: 'boolean' },
    fleet: { type: 'string' },
  },
  run: ({ values: v }) =>
    runBench({
      readme: Boolean(v.readme),
      rounds: positiveInt('runs', v.runs ?? process.env.BENCH_RUNS, 5),
      execs: positiveInt('execs', v.execs ?? process.env.BENCH_EXECS, 50),
      suites: toSuites(v.suites ?? process.env.BENCH_SUITES ?? 'closeout,rehearsal'),
      profile: !v['no-profile'],
      fleetSizes: toFleetSizes(v.fleet ?? process.env.BENCH_FLEET ?? '1,4,8'),
    }),
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runMain(benchCommand)
