// Comparison of two runs (`closeout diff A B`) and the "since the last GO" section of a summary, from
// one code path: gates whose status or classification changed, durations that regressed beyond a
// threshold, measured values read from the bundles (freshness, lag, HTTP latencies, payload hashes,
// images), and the target profile digest. Only GO runs serve as baselines for "since the last GO".
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ATTESTATION_FILES, type DsseEnvelope, imagesSeen, type ResourceDescriptor } from './attest.ts'
import { resolveBundles } from './bundle-paths.ts'
import { reportsDir } from './run-state.ts'

/** The fields of core's Summary a comparison reads. */
export interface CompareSummary {
  suite: string
  runId: string
  target: string
  startedAt: string
  decision: string
  gates: { id: string; suite: string; status: string; classification: string | null; durationMs: number }[]
  bundles?: Record<string, string>
  evidenceDir?: string | null
}

export interface LoadedRun {
  label: string
  summary: CompareSummary
  bundles: string[]
}

export class CompareError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CompareError'
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch {
    return undefined
  }
}

/** A run id (reports/runs/<id>/summary.json) or a bundle directory (its summary.json). */
export function loadRun(arg: string, root = process.cwd(), reports = reportsDir(root)): LoadedRun {
  const runSummary = join(reports, 'runs', arg, 'summary.json')
  if (existsSync(runSummary)) {
    const summary = readJson<CompareSummary>(runSummary)
    if (!summary) throw new CompareError(`${runSummary} is not valid JSON`)
    const bundles = Object.values(summary.bundles ?? {}).filter((d) => existsSync(d))
    return { label: arg, summary, bundles: bundles.length ? bundles : resolveBundles(arg, root, reports) }
  }
  const dirs = resolveBundles(arg, root, reports)
  if (!dirs.length)
    throw new CompareError(`no run "${arg}": give a run id (reports/runs/<id>/) or a bundle directory (reports/evidence/<id>_<suite>/)`)
  const summary = readJson<CompareSummary>(join(dirs[0], 'summary.json'))
  if (!summary) throw new CompareError(`${join(dirs[0], 'summary.json')} is missing or not valid JSON: is ${dirs[0]} an evidence bundle?`)
  return { label: arg, summary, bundles: dirs }
}

/** Measured values of a run, keyed `suite/gate step: name`; the run id in step names is normalised. */
export function measuredValues(run: LoadedRun, withoutSuite = false): Map<string, string> {
  const out = new Map<string, string>()
  const runId = run.summary.runId
  const HASHES = /sha256|hash|^BODY_LEN$|^HTTP_CODE$|^max_|_seconds$|^TAG_COUNT$|^API_TAG$|_IMAGE$/i
  for (const dir of run.bundles) {
    const file = join(dir, 'evidence.jsonl')
    if (!existsSync(file)) continue
    for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      let r: { gate?: string; suite?: string; step?: string; kind?: string; durationMs?: number; details?: Record<string, unknown> }
      try {
        r = JSON.parse(line)
      } catch {
        continue
      }
      // run-scoped ids in step names (tx-missing-<runId>, the rehearsal's e2-3-<yyyymmddHHMMSS>) are not differences
      const step = (r.step ?? '')
        .split(runId)
        .join('{runId}')
        .replace(/\d{8}_?\d{6}/g, '{stamp}')
      const at = withoutSuite ? `${r.gate} ${step}` : `${r.suite}/${r.gate} ${step}`
      if (r.kind === 'http' && typeof r.durationMs === 'number') out.set(`${at}: latency_ms`, String(r.durationMs))
      for (const [k, v] of Object.entries(r.details ?? {})) if (HASHES.test(k) && typeof v !== 'object') out.set(`${at}: ${k}`, String(v))
      for (const [k, v] of rowMaxima(r.details?.rows)) out.set(`${at}: ${k}`, String(v))
    }
    for (const img of imagesSeen(dir)) out.set(`image ${img.split(/[:@]/)[0]}`, img)
  }
  return out
}

/** The maximum of every numeric column of a query's rows (max_lag, max_freshness). */
function rowMaxima(rows: unknown): [string, number][] {
  if (!Array.isArray(rows)) return []
  const max = new Map<string, number>()
  for (const row of rows)
    for (const [k, v] of Object.entries(row as Record<string, unknown>))
      if (typeof v === 'number') max.set(`max(${k})`, Math.max(max.get(`max(${k})`) ?? -Infinity, v))
  return [...max]
}

/** The target profile digest recorded in the bundle's attestation (configuration). */
export function profileDigest(run: LoadedRun): string | null {
  for (const dir of run.bundles) {
    const env = readJson<DsseEnvelope>(join(dir, ATTESTATION_FILES.decision))
    if (!env) continue
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate?: { configuration?: ResourceDescriptor[] } }
    const p = st.predicate?.configuration?.find((c) => c.name.startsWith('target profile'))
    if (p) return p.digest.sha256 ?? null
  }
  return null
}

export interface CompareOptions {
  /** a duration regressed when B > A × (1 + pct/100) … */
  durationThresholdPct?: number
  /** … and B − A ≥ this many ms (small numbers are noise) */
  durationMinMs?: number
  /** compare across suites (a closeout against a rehearsal GO): gates by id, only the ids both have */
  crossSuite?: boolean
}

export interface Comparison {
  a: { label: string; runId: string; decision: string }
  b: { label: string; runId: string; decision: string }
  gatesChanged: { gate: string; a: string; b: string }[]
  durationsRegressed: { what: string; aMs: number; bMs: number }[]
  valuesChanged: { key: string; a: string; b: string }[]
  profile: { a: string | null; b: string | null } | null
}

const gateState = (g?: { status: string; classification: string | null }) =>
  g ? `${g.status}${g.classification ? ` (${g.classification})` : ''}` : 'absent'

function isRegression(aMs: number, bMs: number, o: { durationThresholdPct: number; durationMinMs: number }): boolean {
  return bMs - aMs >= o.durationMinMs && bMs > aMs * (1 + o.durationThresholdPct / 100)
}

export function compareRuns(a: LoadedRun, b: LoadedRun, opts: CompareOptions = {}): Comparison {
  const o = { durationThresholdPct: opts.durationThresholdPct ?? 50, durationMinMs: opts.durationMinMs ?? 200 }
  const key = (g: { suite: string; id: string }) => (opts.crossSuite ? g.id : `${g.suite}/${g.id}`)
  const ga = new Map(a.summary.gates.map((g) => [key(g), g]))
  const gb = new Map(b.summary.gates.map((g) => [key(g), g]))
  const gatesChanged: Comparison['gatesChanged'] = []
  const durationsRegressed: Comparison['durationsRegressed'] = []
  const keys = opts.crossSuite ? [...ga.keys()].filter((k) => gb.has(k)) : [...new Set([...ga.keys(), ...gb.keys()])]
  for (const k of keys) {
    const x = ga.get(k)
    const y = gb.get(k)
    if (gateState(x) !== gateState(y)) gatesChanged.push({ gate: k, a: gateState(x), b: gateState(y) })
    if (x && y && x.status === 'passed' && y.status === 'passed' && isRegression(x.durationMs, y.durationMs, o))
      durationsRegressed.push({ what: `gate ${k}`, aMs: x.durationMs, bMs: y.durationMs })
  }
  const va = measuredValues(a, opts.crossSuite)
  const vb = measuredValues(b, opts.crossSuite)
  const valuesChanged: Comparison['valuesChanged'] = []
  for (const k of [...new Set([...va.keys(), ...vb.keys()])].sort()) {
    const x = va.get(k)
    const y = vb.get(k)
    if (k.endsWith(': latency_ms')) {
      if (x !== undefined && y !== undefined && isRegression(Number(x), Number(y), o))
        durationsRegressed.push({ what: k.replace(/: latency_ms$/, ''), aMs: Number(x), bMs: Number(y) })
    } else if (x !== y && !(opts.crossSuite && (x === undefined || y === undefined)))
      valuesChanged.push({ key: k, a: x ?? 'absent', b: y ?? 'absent' })
  }
  const pa = profileDigest(a)
  const pb = profileDigest(b)
  return {
    a: { label: a.label, runId: a.summary.runId, decision: a.summary.decision },
    b: { label: b.label, runId: b.summary.runId, decision: b.summary.decision },
    gatesChanged,
    durationsRegressed,
    valuesChanged,
    // a digest only one side recorded (a bundle from before attestation) is not a difference
    profile: pa && pb && pa !== pb ? { a: pa, b: pb } : null,
  }
}

export function hasDifferences(c: Comparison): boolean {
  return c.gatesChanged.length + c.durationsRegressed.length + c.valuesChanged.length > 0 || c.profile !== null
}

export function comparisonMarkdown(c: Comparison, heading = `## ${c.a.runId} (${c.a.decision}) → ${c.b.runId} (${c.b.decision})`): string {
  const esc = (t: string) => t.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const lines = [heading, '']
  if (!hasDifferences(c))
    return [...lines, 'No differences in gate results, durations, measured values or the target profile.', ''].join('\n')
  if (c.gatesChanged.length)
    lines.push(
      '### Gates changed',
      '',
      '| gate | before | now |',
      '|---|---|---|',
      ...c.gatesChanged.map((g) => `| ${g.gate} | ${g.a} | ${g.b} |`),
      '',
    )
  if (c.durationsRegressed.length)
    lines.push(
      '### Durations regressed',
      '',
      '| what | before ms | now ms |',
      '|---|---|---|',
      ...c.durationsRegressed.map((d) => `| ${esc(d.what)} | ${d.aMs} | ${d.bMs} |`),
      '',
    )
  if (c.valuesChanged.length)
    lines.push(
      '### Measured values changed',
      '',
      '| value | before | now |',
      '|---|---|---|',
      ...c.valuesChanged.map((v) => `| ${esc(v.key)} | ${esc(v.a)} | ${esc(v.b)} |`),
      '',
    )
  if (c.profile)
    lines.push(
      '### Target profile changed',
      '',
      `- sha256 before: ${c.profile.a ?? 'not recorded'}`,
      `- sha256 now: ${c.profile.b ?? 'not recorded'}`,
      '',
    )
  return lines.join('\n')
}

/** The latest GO run before `current` of the same target that passed every gate `current` has: same suite first; a closeout without one
 * takes the latest rehearsal GO (the rehearsal is the baseline the cutover closeout compares with). */
export function findLastGo(reports: string, current: CompareSummary): string | null {
  const runs = join(reports, 'runs')
  if (!existsSync(runs)) return null
  const gos = readdirSync(runs)
    .filter((id) => id !== current.runId)
    .map((id) => ({ id, s: readJson<CompareSummary>(join(runs, id, 'summary.json')) }))
    .filter(
      (r): r is { id: string; s: CompareSummary } =>
        !!r.s && r.s.decision === 'GO' && r.s.target === current.target && r.s.startedAt < current.startedAt,
    )
    // a one-gate GO is no baseline for a full run: the baseline must have passed every gate id this run has
    .filter(
      (r) =>
        r.s.suite !== current.suite ||
        current.gates.every((g) => r.s.gates.some((b) => b.id === g.id && b.suite === g.suite && b.status === 'passed')),
    )
    .sort((x, y) => y.s.startedAt.localeCompare(x.s.startedAt))
  const same = gos.find((r) => r.s.suite === current.suite)
  const rehearsal = current.suite === 'closeout' ? gos.find((r) => r.s.suite === 'rehearsal') : undefined
  return (same ?? rehearsal)?.id ?? null
}

/** "Since the last GO of this suite and target": markdown for the summary, or a line saying there is none. */
export function sinceLastGo(reports: string, current: CompareSummary, opts: CompareOptions = {}): string {
  const base = findLastGo(reports, current)
  if (!base) return `## Since the last GO\n\nNo earlier GO run of ${current.suite} on ${current.target}: nothing to compare with.\n`
  const a = loadRun(base, process.cwd(), reports)
  const b: LoadedRun = {
    label: current.runId,
    summary: current,
    bundles: Object.values(current.bundles ?? {}).filter((d) => existsSync(d)),
  }
  const c = compareRuns(a, b, { ...opts, crossSuite: a.summary.suite !== current.suite })
  return comparisonMarkdown(c, `## Since the last GO (${a.summary.suite} ${base}, ${a.summary.startedAt})`)
}
