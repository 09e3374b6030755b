// The decision, as pure functions of gate results (+ the run's selection and flags): GO / NO_GO /
// BLOCKED, classifications, retry metadata, the stop rules, the E2-3 cutover decision. Nothing here
// reads or writes a file: helpers/bundle.ts writes what these functions compute.
import { isBlockingClassification, isClassification, UNBLOCK_CRITERIA } from './classification.ts'
import { applyPolicy, countsForDecision, type DecisionPolicy, EMPTY_POLICY, type PolicyNote, type Waiver } from './policy.ts'
import { GATE_STATUSES, type GateResult, type GateStatus, type RunInfo } from './run-state.ts'
import { STOP_RULES, type SuiteName } from './suites.ts'

export type Decision = 'GO' | 'NO_GO' | 'BLOCKED'

export const EXIT_CODES: Record<Decision | 'USAGE', number> = { GO: 0, NO_GO: 1, BLOCKED: 2, USAGE: 3 }

/** A gate in the summary: a worker's status, or 'waived' / 'advisory' set by the decision policy. */
export const SUMMARY_GATE_STATUSES = [...GATE_STATUSES, 'waived'] as const

/** The short label of each gate status in terminal tables (the run summary, the fleet table). */
export const STATUS_LABELS: Record<(typeof SUMMARY_GATE_STATUSES)[number], string> = {
  passed: 'PASS',
  failed: 'FAIL',
  blocked: 'BLOCKED',
  skipped: 'SKIP',
  interrupted: 'INTR',
  advisory: 'ADVISORY',
  waived: 'WAIVED',
}
export type SummaryGateStatus = GateStatus | 'waived'

export interface SummaryGate {
  id: string
  suite: SuiteName
  status: SummaryGateStatus
  classification: string | null
  reason: string | null
  durationMs: number
  evidence: string | null
  /** set when the decision policy changed the status: what it was, and the waiver / advisory entry */
  policy?: PolicyNote
}

export interface Summary {
  suite: string
  runId: string
  target: string
  startedAt: string
  finishedAt: string
  decision: Decision
  gates: SummaryGate[]
  classifications: string[]
  retry: { owner: string; retryAtUtc: string; unblockCriteria: string[] } | null
  evidenceDir: string | null
  reportDir: string
  /** extensions: one bundle per suite, the error that stopped the run before any gate, interruption */
  bundles: Record<string, string>
  configError: string | null
  interrupted: boolean
  /** the decision policy of the profile: waivers that applied, expired, matched nothing; advisory gates (suite/id) */
  waiversInForce: Waiver[]
  waiversExpired: Waiver[]
  waiversUnused: Waiver[]
  advisory: string[]
}

/** GO when every counted gate passed; NO_GO when any failed with *_FAILED / FRESHNESS_SLO_BREACHED; else
 * BLOCKED. Interrupted is BLOCKED. Waived and advisory gates (the profile's policy, --keep-going after a
 * stop) never count; the gates must already have been through applyPolicy(). */
export function decide(
  gates: Pick<SummaryGate, 'status' | 'classification' | 'policy'>[],
  opts: { configError?: boolean; interrupted?: boolean } = {},
): Decision {
  // DESIGN: an interrupted run is BLOCKED (exit 2), whatever it had found so far
  if (opts.interrupted) return 'BLOCKED'
  // waived and advisory gates are shown, never counted (helpers/policy.ts); all of them → nothing decided → BLOCKED
  const counted = gates.filter(countsForDecision)
  if (counted.some((g) => g.status === 'failed' && !isBlockingClassification(g.classification))) return 'NO_GO'
  if (opts.configError || counted.length === 0) return 'BLOCKED'
  // a --keep-going result (advisory without a policy note) exists only because a stop rule fired: never GO beside one
  const keptGoing = gates.some((g) => g.status === 'advisory' && !g.policy?.advisory)
  if (counted.every((g) => g.status === 'passed') && !keptGoing) return 'GO'
  return 'BLOCKED'
}

/** The stop rule that keeps a gate from running: the first earlier stage of its suite's declared
 * sequence with a gate that failed, was blocked or was interrupted in this run. */
export function stopReason(
  suite: SuiteName,
  gateId: string,
  results: readonly Pick<GateResult, 'id' | 'suite' | 'status' | 'classification'>[],
): string | undefined {
  const stages = STOP_RULES[suite]
  const own = stages.findIndex((s) => s.gates.includes(gateId))
  const before = own === -1 ? stages : stages.slice(0, own)
  for (const stage of before) {
    for (const id of stage.gates) {
      const r = results.find((x) => x.suite === suite && x.id === id)
      if (r && (r.status === 'failed' || r.status === 'blocked' || r.status === 'interrupted')) {
        return `stopped at ${id} (${r.classification ?? r.status.toUpperCase()})`
      }
    }
  }
  return undefined
}

/** Merge the run's selection with the results; unselected results from earlier invocations stay. */
export function summarizeGates(info: RunInfo, results: GateResult[]): SummaryGate[] {
  const byKey = new Map(results.map((r) => [`${r.suite}.${r.id}`, r]))
  const out: SummaryGate[] = []
  const seen = new Set<string>()
  const push = (g: SummaryGate) => {
    const k = `${g.suite}.${g.id}`
    if (!seen.has(k)) seen.add(k), out.push(g)
  }
  for (const s of info.selected) {
    const r = byKey.get(`${s.suite}.${s.id}`)
    if (r) push(toSummaryGate(r))
    else
      push({
        id: s.id,
        suite: s.suite,
        status: 'skipped',
        classification: null,
        reason: info.configError
          ? `not run: ${info.configError.replace(/\n\s*/g, ' ')}`
          : info.interrupted
            ? 'not run: the run was interrupted'
            : 'not run',
        durationMs: 0,
        evidence: null,
      })
  }
  for (const r of results) push(toSummaryGate(r))
  return out
}

function toSummaryGate(r: GateResult): SummaryGate {
  return {
    id: r.id,
    suite: r.suite,
    status: r.status,
    classification: r.classification,
    reason: r.reason,
    durationMs: r.durationMs,
    evidence: r.evidence,
  }
}

/** What must be true before the next attempt, per classification and run condition. */
export function unblockCriteria(gates: SummaryGate[], info: Pick<RunInfo, 'configError'>, interrupted: boolean): string[] {
  const counted = gates.filter(countsForDecision)
  const classifications = [...new Set(counted.flatMap((g) => (g.classification ? [g.classification] : [])))]
  const unblock = classifications.filter(isClassification).map((c) => UNBLOCK_CRITERIA[c])
  if (info.configError) unblock.unshift(`CONFIGURATION: ${info.configError.replace(/\n\s*/g, ' ')} — fix it and rerun.`)
  if (interrupted) unblock.push('INTERRUPTED: the run was stopped before every gate ran; start a new run (an interrupted run is never GO).')
  if (gates.length && !counted.length && !info.configError)
    unblock.push('NOTHING DECIDED: every selected gate is waived or advisory (policy:); select at least one gate that counts.')
  if (counted.some((g) => g.status === 'blocked' && !g.classification) && !unblock.length)
    unblock.push('BLOCKED: a needed or earlier gate did not pass; see the reasons per gate.')
  return unblock
}

export interface SummaryInput {
  info: RunInfo
  results: GateResult[]
  /** each suite's bundle directory and the report directory (paths only) */
  bundleDirOf: (suite: SuiteName) => string
  reportDir: string
  owner: string
  retryAfterHours: number
  now: Date
  interrupted?: boolean
  /** the profile's decision policy (waivers, advisory gates), applied at `now` before deciding */
  policy?: DecisionPolicy
}

/** The summary (DESIGN schema) of a run, from its run.json and gate results: the policy first, then the decision. */
export function buildSummary(input: SummaryInput): Summary {
  const { info, now } = input
  const interrupted = Boolean(input.interrupted || info.interrupted)
  const policed = applyPolicy(summarizeGates({ ...info, interrupted }, input.results), input.policy ?? EMPTY_POLICY, now)
  const gates: SummaryGate[] = policed.gates.map((g) => ({ ...g, status: g.status as SummaryGateStatus }))
  const decision = decide(gates, { configError: Boolean(info.configError), interrupted })
  const classifications = [...new Set(gates.filter(countsForDecision).flatMap((g) => (g.classification ? [g.classification] : [])))]
  const suites = [...new Set(gates.map((g) => g.suite))]
  const bundles = Object.fromEntries(suites.map((s) => [s, input.bundleDirOf(s)]))
  return {
    suite: suites.length ? suites.join('+') : (info.selected[0]?.suite ?? 'none'),
    runId: info.runId,
    target: info.target.name ? `${info.target.name} (${info.target.file})` : info.target.file,
    startedAt: info.startedAt,
    finishedAt: now.toISOString(),
    decision,
    gates,
    classifications,
    retry:
      decision === 'GO'
        ? null
        : {
            owner: input.owner,
            retryAtUtc: new Date(now.getTime() + input.retryAfterHours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            unblockCriteria: unblockCriteria(gates, info, interrupted),
          },
    evidenceDir: suites.length ? bundles[suites[0]] : null,
    reportDir: input.reportDir,
    bundles,
    configError: info.configError ?? null,
    interrupted,
    waiversInForce: policed.waiversInForce,
    waiversExpired: policed.waiversExpired,
    waiversUnused: policed.waiversUnused,
    advisory: policed.advisory,
  }
}

/** The cutover decision of E2-3 §6: GO only when the whole rehearsal passed in this run. */
export type CutoverDecision = Decision | 'INCOMPLETE'

export function cutoverDecision(s: Summary, required: readonly string[]): { decision: CutoverDecision; missing: string[] } {
  const gates = s.gates.filter((g) => g.suite === 'rehearsal')
  const d = decide(gates, { configError: Boolean(s.configError), interrupted: s.interrupted })
  // a waived failure or a policy-advisory gate is settled by the owned policy entry (the 99 file lists it)
  const passed = new Set(gates.filter((g) => g.status === 'passed' || g.policy).map((g) => g.id))
  const missing = required.filter((id) => !gates.some((g) => g.id === id))
  // a GO over part of the rehearsal (say, a one-gate run) is not a GO for the cutover
  if (d === 'GO' && required.some((id) => !passed.has(id))) return { decision: 'INCOMPLETE', missing }
  return { decision: d, missing }
}
