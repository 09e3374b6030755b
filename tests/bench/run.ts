// pnpm bench [--readme]: against the local environment, the wall time of the closeout and rehearsal
// suites run the way operators run them (`pnpm test --tag SUITE`, process start to exit, median of N;
// in rounds, every variant once per round after one discarded warm-up round), each gate's duration,
// the harness's own overhead (wall − Σ gates), the peak RSS of the largest process of a run (GNU time,
// when installed), and the exec round trip through the harness's kube client (p50/p95). Results:
// reports/bench/<stamp>.json and reports/bench/latest.md; --readme also rewrites the README's
// performance block. Never asserts: figures, not pass/fail.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { cpus, tmpdir, totalmem } from 'node:os'
import { loadProfile } from '../../helpers/profile.ts'
import { Kube, loadKubeConfig } from '../../helpers/kube.ts'
import type { Summary } from '../../helpers/decision.ts'

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const EXECS = Number(process.env.BENCH_EXECS ?? 50)
const SUITES = (process.env.BENCH_SUITES ?? 'closeout,rehearsal').split(',').filter(Boolean)
const GNU_TIME = '/usr/bin/time'

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
function timed(argv: string[]): Timed {
  const tmp = mkdtempSync(join(tmpdir(), 'closeout-bench-'))
  const rssFile = join(tmp, 'rss')
  const full = existsSync(GNU_TIME) ? [GNU_TIME, '-f', '%M', '-o', rssFile, ...argv] : argv
  const t0 = performance.now()
  const r = spawnSync(full[0], full.slice(1), { cwd: ROOT, encoding: 'utf8', env: process.env })
  const ms = Math.round(performance.now() - t0)
  const rss = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : Number.NaN
  rmSync(tmp, { recursive: true, force: true })
  return { code: r.status, ms, maxRssKiB: Number.isFinite(rss) ? rss : null, out: `${r.stdout}${r.stderr}` }
}

interface SuiteBench {
  command: string
  variant?: string
  runs: number
  decisions: string[]
  wallMs: number[]
  medianMs: number
  overheadMedianMs: number
  maxRssMiB: number | null
  gates: Record<string, { medianMs: number; p95Ms: number }>
}

interface Variant {
  key: string
  suite: string
  /** the catalogue cache removed before each run (the first run after an edit of a spec or helper) */
  coldCatalog?: boolean
}

/** Runs every variant once per round, RUNS rounds, so that each sees the same machine state (a block
 * of one variant after another would fold warm-up and drift into the comparison). */
function benchVariants(variants: Variant[], pnpm: string | undefined): Record<string, SuiteBench> {
  // the operator's command; without pnpm on PATH (bench started by plain node) the script it runs
  const base = pnpm ? [pnpm, 'test'] : [process.execPath, 'bin/test.ts']
  const acc = new Map(variants.map((v) => [v.key, { wall: [] as number[], overhead: [] as number[], rss: [] as number[], decisions: [] as string[], perGate: new Map<string, number[]>() }]))
  const once = (v: Variant, label: string) => {
    const runId = `bench-${v.key}-${Date.now()}-${label}`
    if (v.coldCatalog) rmSync(join(ROOT, 'reports/.cache/catalog.json'), { force: true })
    const r = timed([...base, '--tag', v.suite, '--run-id', runId, '--quiet'])
    const file = join(ROOT, 'reports/runs', runId, 'summary.json')
    if (!existsSync(file)) throw new Error(`${v.key} run ${label} wrote no summary (exit ${r.code}):\n${r.out.slice(-2000)}`)
    return { r, s: JSON.parse(readFileSync(file, 'utf8')) as Summary }
  }
  // one discarded round: the first runs after env up also pay for the stack's own start-up
  for (const v of variants) once(v, 'warmup')
  for (let i = 0; i < RUNS; i++) {
    for (const v of variants) {
      const { r, s } = once(v, String(i))
      const a = acc.get(v.key)!
      a.wall.push(r.ms)
      if (r.maxRssKiB !== null) a.rss.push(r.maxRssKiB)
      a.decisions.push(s.decision)
      a.overhead.push(r.ms - s.gates.reduce((n, g) => n + g.durationMs, 0))
      for (const g of s.gates) a.perGate.set(g.id, [...(a.perGate.get(g.id) ?? []), g.durationMs])
      process.stdout.write(`${v.key} run ${i + 1}/${RUNS}: ${r.ms} ms, ${s.decision}\n`)
    }
  }
  return Object.fromEntries(
    variants.map((v) => {
      const a = acc.get(v.key)!
      const bench: SuiteBench = {
        command: `${pnpm ? 'pnpm test' : 'node bin/test.ts'} --tag ${v.suite}`,
        variant: v.coldCatalog ? 'catalogue cache cold, as after an edit of a spec or helper' : undefined,
        runs: RUNS,
        decisions: a.decisions,
        wallMs: a.wall,
        medianMs: quantile(a.wall, 0.5),
        overheadMedianMs: quantile(a.overhead, 0.5),
        maxRssMiB: a.rss.length ? Math.round(Math.max(...a.rss) / 1024) : null,
        gates: Object.fromEntries([...a.perGate].map(([id, xs]) => [id, { medianMs: quantile(xs, 0.5), p95Ms: quantile(xs, 0.95) }])),
      }
      return [v.key, bench]
    }),
  )
}

async function benchExec(): Promise<{ n: number; p50Ms: number; p95Ms: number }> {
  const profile = loadProfile(join(ROOT, 'fixtures/targets/local.yaml'))
  const kube = new Kube(loadKubeConfig({ kubeconfig: profile.kube.kubeconfig, context: profile.kube.context }), { namespace: profile.kube.namespace, timeoutMs: 10_000 })
  const ms: number[] = []
  for (let i = 0; i < EXECS; i++) {
    const t0 = performance.now()
    const r = await kube.execInPod({ deployment: profile.consumer.deployment, container: profile.consumer.container, command: ['true'], timeoutMs: 10_000 })
    ms.push(performance.now() - t0)
    if (r.exitCode !== 0) throw new Error(`exec of "true" in ${profile.consumer.deployment} exited ${r.exitCode}: ${r.stderr}`)
  }
  return { n: EXECS, p50Ms: quantile(ms, 0.5), p95Ms: quantile(ms, 0.95) }
}

function renderMarkdown(r: { at: string; machine: { cpus: number; model?: string; memGiB: number; node: string }; suites: Record<string, SuiteBench>; exec: { n: number; p50Ms: number; p95Ms: number } }): string {
  const lines = [
    `Measured by \`./closeout bench\` at ${r.at} on ${r.machine.cpus} cores (${r.machine.model ?? 'unknown CPU'}), ${r.machine.memGiB} GiB, Node ${r.machine.node}, local environment up with no fault; one run, so the figures compare with each other.`,
    '',
    '| what | median | p95 |',
    '|---|---|---|',
  ]
  for (const [suite, s] of Object.entries(r.suites)) {
    lines.push(`| **\`${s.command}\`**${s.variant ? ` (${s.variant})` : ''}, process start to exit (${s.runs} runs, ${[...new Set(s.decisions)].join('/')}) | **${s.medianMs} ms** | ${quantile(s.wallMs, 0.95)} ms |`)
    lines.push(`| ${suite}: harness overhead (wall − Σ gate durations: pnpm, vitest start, imports, summary, manifest) | ${s.overheadMedianMs} ms | — |`)
    if (suite.endsWith('-cold-catalog')) continue
    for (const [id, g] of Object.entries(s.gates)) lines.push(`| ${suite} gate \`${id}\` | ${g.medianMs} ms | ${g.p95Ms} ms |`)
  }
  lines.push(`| exec round trip through the harness (\`true\` in the consumer pod over WebSocket v5, n=${r.exec.n}) | ${r.exec.p50Ms} ms (p50) | ${r.exec.p95Ms} ms |`)
  const rss = Object.entries(r.suites).filter(([, s]) => s.maxRssMiB !== null)
  if (rss.length) lines.push('', `Peak RSS of the largest process of a run (GNU time): ${rss.map(([k, s]) => `${k} ${s.maxRssMiB} MiB`).join(', ')}.`)
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

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const unknown = args.filter((a) => a !== '--readme')
  if (unknown.length) throw new Error(`unknown argument ${unknown.join(' ')} (usage: pnpm bench [--readme]; env BENCH_RUNS, BENCH_EXECS, BENCH_SUITES)`)
  const up = timed([process.execPath, 'fixtures/local-env/env.ts', 'up'])
  if (up.code !== 0) throw new Error(`./closeout env up failed:\n${up.out}`)
  const pnpm = onPath('pnpm')
  const variants: Variant[] = SUITES.map((s) => ({ key: s, suite: s }))
  // the same suite when the catalogue must be rebuilt (after an edit of a spec or helper)
  if (SUITES.includes('closeout')) variants.push({ key: 'closeout-cold-catalog', suite: 'closeout', coldCatalog: true })
  const suites = benchVariants(variants, pnpm)
  const exec = await benchExec()
  const result = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model.trim(), memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    suites,
    exec,
  }
  const dir = join(ROOT, 'reports/bench')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `${result.at.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2))
  const md = renderMarkdown(result)
  writeFileSync(join(dir, 'latest.md'), md + '\n')
  process.stdout.write(`\n${md}\n\nwritten: reports/bench/latest.md\n`)
  if (args.includes('--readme')) {
    const f = join(ROOT, 'README.md')
    writeFileSync(f, withBenchBlock(readFileSync(f, 'utf8'), md))
    process.stdout.write('written: the README performance block\n')
  }
}

// pathToFileURL: a checkout path with a space is percent-encoded in import.meta.url
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench: ${(e as Error).message}\n`)
      process.exit(1)
    },
  )
}
