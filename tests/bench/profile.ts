// "Where the time goes" in one closeout run, for `./closeout bench`: the V8 CPU profiles that
// `--cpu-prof` writes for every Node process of the run (the CLI, vitest, its worker, pnpm when it is
// the launcher), each summarised as wall time, busy time and self time by package or project folder;
// and import timings of the heavy dependencies, each measured in a fresh process.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import { $ } from 'zx'

interface CpuProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
}

interface CpuProfile {
  nodes: CpuProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProcessProfile {
  /** what the process was, from the scripts in its profile */
  label: string
  pid: number
  /** ms since the first process of the run started */
  startMs: number
  wallMs: number
  /** sampled time that was not idle */
  busyMs: number
  /** self time (ms) by where the code lives: a package, a project folder, node's module loader, GC */
  byWhere: { where: string; ms: number }[]
}

/** Where a function's code lives: the package under node_modules, the project folder, or a V8/node bucket. */
export function whereOf(frame: { functionName: string; url: string }, root: string): string {
  const { url, functionName } = frame
  if (!url) {
    if (functionName === '(garbage collector)') return 'V8: garbage collection'
    if (functionName === '(idle)') return '(idle)'
    if (functionName === '(program)') return 'V8: compile and native'
    return functionName ? `native: ${functionName}` : 'native'
  }
  if (url.startsWith('wasm:')) return 'wasm (undici llhttp)'
  if (url.startsWith('node:')) return /modules|loader|vm/.test(url) ? 'node: module loading' : 'node: runtime'
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url
  const nm = path.lastIndexOf(`${sep}node_modules${sep}`)
  if (nm >= 0) {
    const parts = path.slice(nm + 14).split(sep)
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
  }
  const rel = relative(root, path)
  if (!rel.startsWith('..')) return `project: ${rel.split(sep)[0]}/`
  return 'other'
}

/** Names a process by the first of its scripts we recognise (a worker also runs vitest's code). */
function labelOf(urls: Set<string>): string {
  const has = (re: RegExp) => [...urls].some((u) => re.test(u))
  if (has(/\/specs\//) || has(/vitest\/dist\/workers/)) return 'vitest worker (the gates)'
  if (has(/\/bin\/test\.ts$/)) return 'bin/test.ts (the CLI)'
  if (has(/\/vitest\/(vitest\.mjs|dist\/)/)) return 'vitest (main: config, collection, reporters)'
  if (has(/node_modules\/pnpm\/(dist|bin)\//)) return 'pnpm'
  if (has(/\/bin\/closeout\.ts$/)) return 'bin/closeout.ts'
  return 'node'
}

function summariseOne(p: CpuProfile, pid: number, root: string, t0: number): ProcessProfile {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i])
    if (!node) continue
    const where = whereOf(node.callFrame, root)
    self.set(where, (self.get(where) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
  }
  const idle = self.get('(idle)') ?? 0
  self.delete('(idle)')
  self.delete('native: (root)')
  const wallMs = (p.endTime - p.startTime) / 1000
  return {
    label: labelOf(new Set(p.nodes.map((n) => n.callFrame.url).filter(Boolean))),
    pid,
    startMs: Math.round((p.startTime - t0) / 1000),
    wallMs: Math.round(wallMs),
    busyMs: Math.round(wallMs - idle),
    byWhere: [...self]
      .map(([where, ms]) => ({ where, ms: Math.round(ms) }))
      .sort((a, b) => b.ms - a.ms)
      .filter((x) => x.ms > 0),
  }
}

/** Every *.cpuprofile in dir (Node names them CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile), by start time. */
export function summariseCpuProfiles(dir: string, root: string): ProcessProfile[] {
  const loaded = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ pid: Number(f.split('.')[3]), p: JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile }))
  if (!loaded.length) return []
  const t0 = Math.min(...loaded.map((x) => x.p.startTime))
  return loaded.map((x) => summariseOne(x.p, x.pid, root, t0)).sort((a, b) => a.startMs - b.startMs)
}

export interface ImportTiming {
  module: string
  /** median ms of a dynamic import() in a fresh process, or null when the import failed */
  ms: number | null
  error?: string
}

/** The dependencies a gate run loads, and the harness entry that loads them. */
export const IMPORTED = [
  'vitest',
  '@kubernetes/client-node',
  '@azure/identity',
  '@azure/monitor-query-logs',
  'undici',
  'allure-js-commons',
  'zod',
  'yaml',
  'zx',
  'pg',
  'ioredis',
  'ws',
  'helpers/harness.ts',
  'helpers/profile.ts',
]

/** import() time of each module in a fresh Node process (median of `runs`), plus `node -e 0` as the floor. */
export async function measureImports(
  root: string,
  modules = IMPORTED,
  runs = 3,
): Promise<{ nodeStartMs: number; imports: ImportTiming[] }> {
  const q = $({ cwd: root, quiet: true, nothrow: true, timeout: '60s' })
  const start: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    await q`${process.execPath} -e 0`
    start.push(performance.now() - t)
  }
  const imports: ImportTiming[] = []
  for (const m of modules) {
    const spec = m.endsWith('.ts') ? pathToFileURL(join(root, m)).href : m
    const code = `const t = performance.now(); await import(${JSON.stringify(spec)}); process.stdout.write(String(performance.now() - t))`
    const ms: number[] = []
    let error: string | undefined
    for (let i = 0; i < runs && !error; i++) {
      const r = await q`${process.execPath} --input-type=module -e ${code}`
      if (r.exitCode === 0) ms.push(Number(r.stdout))
      else
        error =
          r.stderr
            .trim()
            .split('\n')
            .find((l) => /Error/.test(l)) ?? `exit ${r.exitCode}`
    }
    imports.push(
      error ? { module: m, ms: null, error } : { module: m, ms: Math.round(ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]) },
    )
  }
  return { nodeStartMs: Math.round(start.sort((a, b) => a - b)[Math.floor(start.length / 2)]), imports }
}

/** The markdown section: per process, then the imports. */
export function renderWhereTimeGoes(
  procs: ProcessProfile[],
  imp: { nodeStartMs: number; imports: ImportTiming[] },
  command: string,
): string {
  const lines = [
    '### Where the time goes (one closeout run, `--cpu-prof`)',
    '',
    `Command: \`${command}\`, every Node process profiled (NODE_OPTIONS=--cpu-prof).`,
    '',
  ]
  lines.push('| process | starts at | wall | busy (not idle) | self time by where the code lives (top 6) |', '|---|---|---|---|---|')
  for (const p of procs) {
    const top = p.byWhere
      .slice(0, 6)
      .map((w) => `${w.where} ${w.ms}`)
      .join(', ')
    lines.push(`| ${p.label} (pid ${p.pid}) | +${p.startMs} ms | ${p.wallMs} ms | ${p.busyMs} ms | ${top} |`)
  }
  lines.push('', `Import timings (a fresh process each, median of 3; \`node -e 0\` alone takes ${imp.nodeStartMs} ms, not included):`, '')
  lines.push('| module | import() |', '|---|---|')
  for (const i of imp.imports) lines.push(`| \`${i.module}\` | ${i.ms === null ? `failed: ${i.error}` : `${i.ms} ms`} |`)
  return lines.join('\n')
}
