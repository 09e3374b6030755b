// The pure half of a fleet run (`closeout test --target a.yaml --target b.yaml … [--parallel N]`, bin/fleet.ts):
// the argument split, each target's run id, the verdict of one target from its exit code and summary, the
// fleet's one exit code, and the aggregate table (gate × target). No process, no file: bin/fleet.ts does those.
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import type { Decision, Summary } from './decision.ts'
import { EXIT_CODES, STATUS_LABELS } from './decision.ts'
import { UsageError } from './tags.ts'

export const DEFAULT_PARALLEL = 2
const MAX_PARALLEL = 32

export interface FleetArgs {
  targets: string[]
  parallel: number
  /** everything else, handed to each target's bin/test.ts unchanged */
  passArgs: string[]
  quiet: boolean
  help: boolean
}

/** A fleet is asked for by more than one --target, or by --parallel (a fleet of one, as the bench runs it). */
export function isFleetArgv(argv: string[]): boolean {
  const targets = argv.filter((a) => a === '--target' || a.startsWith('--target=')).length
  return targets > 1 || argv.some((a) => a === '--parallel' || a.startsWith('--parallel='))
}

export const FLEET_USAGE = `usage: ./closeout test --target FILE --target FILE... [--parallel N] [--tag TAG]... [--tags-filter EXPR]
                      [--allow-mutations] [--allow-disruption] [--keep-going] [--quiet]

  a fleet run: one bin/test.ts per target (its own run id, bundle, summary and decision), at most N at
  once (default ${DEFAULT_PARALLEL}); then the table gate × target, written to reports/fleet/<id>/fleet.{json,md}.
  --run-id, --list and --json are single-target options.
exit code: the worst target's — 3 a configuration error in any target, else 1 any NO_GO, else 2 any
BLOCKED (or the fleet was interrupted), else 0 GO`

/** Split a fleet command line: the fleet's own options, and the rest for every target's run. */
export function parseFleetArgs(argv: string[]): FleetArgs {
  const args = argv[0] === '--' ? argv.slice(1) : argv
  let v: Record<string, string | boolean | string[] | undefined>
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string', multiple: true },
        parallel: { type: 'string' },
        tag: { type: 'string', short: 't', multiple: true },
        'tags-filter': { type: 'string', multiple: true },
        'allow-mutations': { type: 'boolean' },
        'allow-disruption': { type: 'boolean' },
        'keep-going': { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'run-id': { type: 'string' },
        list: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }).values
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\n\n${FLEET_USAGE}`)
  }
  for (const single of ['run-id', 'list', 'json'])
    if (v[single] !== undefined)
      throw new UsageError(`--${single} is for one target; a fleet gives each target its own new run\n\n${FLEET_USAGE}`)
  const targets = (v.target as string[] | undefined) ?? []
  if (targets.some((t) => t === '')) throw new UsageError(`--target needs a value\n\n${FLEET_USAGE}`)
  const p = v.parallel === undefined ? DEFAULT_PARALLEL : Number(v.parallel)
  if (!Number.isInteger(p) || p < 1 || p > MAX_PARALLEL)
    throw new UsageError(`--parallel "${String(v.parallel)}": a whole number from 1 to ${MAX_PARALLEL}\n\n${FLEET_USAGE}`)
  if (!v.help && !targets.length) throw new UsageError(`a fleet needs at least one --target FILE\n\n${FLEET_USAGE}`)
  const passArgs: string[] = []
  for (const t of (v.tag as string[] | undefined) ?? []) passArgs.push('--tag', t)
  for (const f of (v['tags-filter'] as string[] | undefined) ?? []) passArgs.push('--tags-filter', f)
  for (const flag of ['allow-mutations', 'allow-disruption', 'keep-going']) if (v[flag]) passArgs.push(`--${flag}`)
  return { targets, parallel: p, passArgs, quiet: Boolean(v.quiet), help: Boolean(v.help) }
}

/** `<fleet id>-<n>-<profile file name>`: distinct even when one profile is listed twice, valid as --run-id. */
export function targetRunId(fleetId: string, index: number, target: string): string {
  const slug = basename(target)
    .replace(/\.ya?ml$/i, '')
    .replace(/[^\w.-]+/g, '-')
    .slice(0, 40)
  return `${fleetId}-${index + 1}-${slug || 'target'}`
}

export interface TargetOutcome {
  target: string
  runId: string
  /** the child's exit code; null when it died of a signal */
  exitCode: number | null
  summary?: Summary
  log: string
}

export type FleetDecision = Decision | 'CONFIG_ERROR'

export interface TargetVerdict {
  decision: FleetDecision
  exitCode: number
  /** why the verdict is not just the summary's (no summary, exit code and summary disagree) */
  note?: string
}

const RANK: Record<FleetDecision, number> = { GO: 0, BLOCKED: 1, NO_GO: 2, CONFIG_ERROR: 3 }
const EXIT_OF: Record<FleetDecision, number> = { GO: 0, BLOCKED: 2, NO_GO: 1, CONFIG_ERROR: 3 }
const worse = (a: FleetDecision, b: FleetDecision): FleetDecision => (RANK[b] > RANK[a] ? b : a)

/** One target's verdict: the worse of its exit code and its summary. A target is GO only when both say GO,
 * so a crashed child, a missing summary or a disagreement never turns into a GO. */
export function targetVerdict(o: TargetOutcome): TargetVerdict {
  const fromExit: FleetDecision | undefined = ({ 0: 'GO', 1: 'NO_GO', 2: 'BLOCKED', 3: 'CONFIG_ERROR' } as Record<number, FleetDecision>)[
    o.exitCode ?? -1
  ]
  const fromSummary: FleetDecision | undefined = o.summary ? (o.summary.configError ? 'CONFIG_ERROR' : o.summary.decision) : undefined
  if (!fromSummary) {
    const d = fromExit && fromExit !== 'GO' ? fromExit : 'BLOCKED'
    return { decision: d, exitCode: EXIT_OF[d], note: `no summary from run ${o.runId} (exit ${o.exitCode ?? 'by signal'}); see ${o.log}` }
  }
  if (!fromExit) {
    const d = worse('BLOCKED', fromSummary)
    return { decision: d, exitCode: EXIT_OF[d], note: `bin/test.ts ended with ${o.exitCode ?? 'a signal'}; see ${o.log}` }
  }
  const d = worse(fromExit, fromSummary)
  const note = fromExit !== fromSummary ? `exit code says ${fromExit}, summary says ${fromSummary}: the worse counts` : undefined
  return { decision: d, exitCode: EXIT_OF[d], ...(note ? { note } : {}) }
}

/** The fleet's exit code: an interrupted fleet is BLOCKED (2) like an interrupted run; otherwise the worst
 * target for an operator — configuration error 3, then NO_GO 1, then BLOCKED 2, then GO 0. */
export function fleetExitCode(verdicts: TargetVerdict[], interrupted: boolean): number {
  if (interrupted) return EXIT_CODES.BLOCKED
  if (!verdicts.length) return EXIT_CODES.USAGE
  return EXIT_OF[verdicts.map((v) => v.decision).reduce(worse, 'GO')]
}

export interface FleetReport {
  fleetId: string
  startedAt: string
  finishedAt: string
  parallel: number
  command: string
  interrupted: boolean
  exitCode: number
  decision: FleetDecision
  targets: (TargetOutcome & TargetVerdict & { name: string })[]
  /** suite/id → one cell per target, in target order */
  gates: { gate: string; cells: string[] }[]
}

const CELL = STATUS_LABELS

/** The gate × target table: every gate any target ran, status plus classification when it did not pass. */
export function buildFleetReport(
  base: Pick<FleetReport, 'fleetId' | 'startedAt' | 'finishedAt' | 'parallel' | 'command' | 'interrupted'>,
  outcomes: TargetOutcome[],
): FleetReport {
  const targets = outcomes.map((o) => ({
    ...o,
    ...targetVerdict(o),
    name: o.summary?.target.replace(/ \(.*\)$/, '') || basename(o.target),
  }))
  const order: string[] = []
  for (const o of outcomes)
    for (const g of o.summary?.gates ?? []) if (!order.includes(`${g.suite}/${g.id}`)) order.push(`${g.suite}/${g.id}`)
  const gates = order.map((gate) => ({
    gate,
    cells: outcomes.map((o) => {
      const g = o.summary?.gates.find((x) => `${x.suite}/${x.id}` === gate)
      if (!g) return o.summary ? '—' : 'no summary'
      return g.status === 'passed' ? CELL.passed : `${CELL[g.status]} ${g.classification ?? ''}`.trim()
    }),
  }))
  const exitCode = fleetExitCode(targets, base.interrupted)
  const decision: FleetDecision = base.interrupted
    ? 'BLOCKED'
    : (({ 0: 'GO', 1: 'NO_GO', 2: 'BLOCKED', 3: 'CONFIG_ERROR' } as Record<number, FleetDecision>)[exitCode] ?? 'BLOCKED')
  return { ...base, exitCode, decision, targets, gates }
}

function table(rows: string[][], markdown: boolean): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  const line = (r: string[]) =>
    markdown ? `| ${r.map((x, c) => x.padEnd(widths[c])).join(' | ')} |` : r.map((x, c) => x.padEnd(widths[c])).join('  ')
  const rule = markdown ? `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |` : widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(rows[0]), rule, ...rows.slice(1).map(line)]
}

/** The aggregate as text (terminal) or Markdown (fleet.md): decision row, then one row per gate. */
export function formatFleetReport(r: FleetReport, markdown: boolean): string {
  const head = ['gate', ...r.targets.map((t) => t.name)]
  const rows = [
    head,
    ['decision', ...r.targets.map((t) => `${t.decision} (exit ${t.exitCode})`)],
    ...r.gates.map((g) => [g.gate, ...g.cells]),
  ]
  const esc = (s: string) => (markdown ? s.replace(/\|/g, '\\|') : s)
  const out = [
    markdown
      ? `# Fleet ${r.fleetId}: ${r.decision} (exit ${r.exitCode})`
      : `closeout fleet ${r.fleetId}: ${r.decision} (exit ${r.exitCode})`,
    '',
    ...(markdown
      ? [`\`${r.command}\` — ${r.targets.length} target(s), at most ${r.parallel} at once, ${r.startedAt} → ${r.finishedAt}`, '']
      : []),
    ...(r.interrupted ? ['interrupted: every target was stopped and wrote its own summary; the fleet is BLOCKED', ''] : []),
    ...table(
      rows.map((row) => row.map(esc)),
      markdown,
    ),
    '',
  ]
  for (const t of r.targets) {
    const bundles = Object.values(t.summary?.bundles ?? {}).join(', ')
    out.push(
      `${markdown ? '- ' : '  '}${t.name} (${t.target}): run ${t.runId}, ${t.decision}${bundles ? `, evidence ${bundles}` : ''}, log ${t.log}`,
    )
    if (t.note) out.push(`${markdown ? '  - ' : '    '}${t.note}`)
    if (t.summary?.configError) out.push(`${markdown ? '  - ' : '    '}configuration error: ${t.summary.configError.split('\n')[0]}`)
  }
  return out.join('\n') + '\n'
}
