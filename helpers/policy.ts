// Decision policy from the target profile: waivers (a known, owned, ticketed failure that must not
// hold the release, for a bounded time) and advisory gates (run and reported, never deciding).
// applyPolicy() is pure: the finalizer applies it to the gate results, then decides on the gates
// countsForDecision() keeps. Waived and advisory gates keep their evidence and stay in every report.
import { z } from 'zod'
import { BLOCKING_CLASSIFICATIONS, CLASSIFICATIONS } from './classification.ts'

/** `closeout/consumer-freshness` or `consumer-freshness` (every suite that has a gate of that id). */
const gateRef = z
  .string()
  .regex(
    /^(?:(closeout|rehearsal|readiness)\/)?[a-z0-9][a-z0-9-]*$/,
    'must be a gate id like consumer-freshness or closeout/consumer-freshness',
  )

export const WaiverSchema = z.strictObject({
  gate: gateRef,
  /** the failure being waived; a different classification of the same gate still decides */
  classification: z.enum(CLASSIFICATIONS).refine((c) => !(BLOCKING_CLASSIFICATIONS as readonly string[]).includes(c), {
    message:
      'a "could not check" classification (ENVIRONMENT_BLOCKED, MONITORING_ACCESS_BLOCKED) cannot be waived: nothing was checked; list the gate under policy.advisory instead',
  }),
  reason: z.string().min(10, 'say why the release may proceed despite this failure (at least 10 characters)'),
  owner: z.string().min(1),
  ticket: z.string().min(1),
  /** UTC ISO 8601 with a zone (2026-12-31T00:00:00Z); after it the waiver is ignored and reported as expired */
  expiresAt: z.iso.datetime({ offset: true, message: 'must be a UTC ISO 8601 date-time with a zone, e.g. 2026-12-31T00:00:00Z' }),
})
export type Waiver = z.infer<typeof WaiverSchema>

export const PolicySchema = z.strictObject({
  waivers: z.array(WaiverSchema).default([]),
  /** gates that run and are reported in an "advisory" section but never change the decision */
  advisory: z.array(gateRef).default([]),
})
export type DecisionPolicy = z.infer<typeof PolicySchema>

export const EMPTY_POLICY: DecisionPolicy = { waivers: [], advisory: [] }

/** The fields of a gate result the policy reads and rewrites (core's SummaryGate has them all). */
export interface PolicyGate {
  id: string
  suite: string
  status: string
  classification: string | null
  reason: string | null
}

export interface PolicyNote {
  /** the status the gate had before the policy */
  originalStatus: string
  waiver?: Waiver
  advisory?: true
}

export type PolicedGate<G extends PolicyGate> = G & { policy?: PolicyNote }

export interface PolicyOutcome<G extends PolicyGate> {
  gates: PolicedGate<G>[]
  /** waivers not expired at `now` that matched a failure of this run */
  waiversInForce: Waiver[]
  /** waivers whose expiresAt is before `now`: ignored */
  waiversExpired: Waiver[]
  /** waivers in force that matched nothing in this run (a fixed failure: the waiver can go) */
  waiversUnused: Waiver[]
  /** ids (suite/id) of the gates reported as advisory: policy.advisory and --keep-going results */
  advisory: string[]
}

export function matchesGateRef(ref: string, g: Pick<PolicyGate, 'id' | 'suite'>): boolean {
  return ref.includes('/') ? ref === `${g.suite}/${g.id}` : ref === g.id
}

/** A waiver covers a gate that FAILED (checked and wrong) with exactly the waived classification. */
function findWaiver(waivers: Waiver[], g: PolicyGate): Waiver | undefined {
  if (g.status !== 'failed' || !g.classification) return undefined
  return waivers.find((w) => matchesGateRef(w.gate, g) && w.classification === g.classification)
}

export function applyPolicy<G extends PolicyGate>(gates: G[], policy: DecisionPolicy, now: Date): PolicyOutcome<G> {
  const expired = policy.waivers.filter((w) => Date.parse(w.expiresAt) <= now.getTime())
  const valid = policy.waivers.filter((w) => !expired.includes(w))
  const used = new Set<Waiver>()
  const advisory: string[] = []
  const out = gates.map((g): PolicedGate<G> => {
    // a --keep-going result after a stop rule is advisory already: the same list and section, no policy note
    if (g.status === 'advisory' && !policy.advisory.some((ref) => matchesGateRef(ref, g))) {
      advisory.push(`${g.suite}/${g.id}`)
      return g
    }
    if (policy.advisory.some((ref) => matchesGateRef(ref, g)) && g.status !== 'skipped') {
      advisory.push(`${g.suite}/${g.id}`)
      return { ...g, status: 'advisory', policy: { originalStatus: g.status, advisory: true } }
    }
    const w = findWaiver(valid, g)
    if (!w) return g
    used.add(w)
    const reason = `WAIVED by ${w.ticket} (${w.owner}, until ${w.expiresAt}): ${w.reason} — failure: ${g.reason ?? g.classification}`
    return { ...g, status: 'waived', reason, policy: { originalStatus: g.status, waiver: w } }
  })
  return {
    gates: out,
    waiversInForce: valid.filter((w) => used.has(w)),
    waiversExpired: expired,
    waiversUnused: valid.filter((w) => !used.has(w)),
    advisory,
  }
}

/** The gates the decision counts: waived and advisory ones are shown but never decide. */
export function countsForDecision(g: Pick<PolicyGate, 'status'>): boolean {
  return g.status !== 'waived' && g.status !== 'advisory'
}

/** Policy entries naming a gate the catalogue does not have (a typo would silently waive nothing). */
export function checkPolicyGates(policy: DecisionPolicy, known: Pick<PolicyGate, 'id' | 'suite'>[]): string[] {
  const problems: string[] = []
  const exists = (ref: string) => known.some((g) => matchesGateRef(ref, g))
  policy.waivers.forEach((w, i) => {
    if (!exists(w.gate))
      problems.push(`policy.waivers[${i}].gate: no gate "${w.gate}" in the catalogue (./closeout test --list shows the ids)`)
  })
  policy.advisory.forEach((ref, i) => {
    if (!exists(ref)) problems.push(`policy.advisory[${i}]: no gate "${ref}" in the catalogue (./closeout test --list shows the ids)`)
  })
  return problems
}

/** The policy fields for summary.json (DESIGN's summary schema, extended): what was waived, expired, unused, advisory. */
export function policySummaryFields<G extends PolicyGate>(
  o: PolicyOutcome<G>,
): { waiversInForce: Waiver[]; waiversExpired: Waiver[]; waiversUnused: Waiver[]; advisory: string[] } {
  return { waiversInForce: o.waiversInForce, waiversExpired: o.waiversExpired, waiversUnused: o.waiversUnused, advisory: o.advisory }
}

/** Markdown for the summary / 99 file / report: waivers in force, expired, unused, advisory results. */
export function policyMarkdown<G extends PolicyGate>(o: PolicyOutcome<G>): string {
  if (!o.waiversInForce.length && !o.waiversExpired.length && !o.waiversUnused.length && !o.advisory.length) return ''
  const row = (w: Waiver) =>
    `| ${w.gate} | ${w.classification} | ${w.ticket} | ${w.owner} | ${w.expiresAt} | ${w.reason.replace(/\|/g, '\\|')} |`
  const head = ['| gate | classification | ticket | owner | expires_at | reason |', '|---|---|---|---|---|---|']
  const lines: string[] = []
  if (o.waiversInForce.length) lines.push('## Waivers in force', '', ...head, ...o.waiversInForce.map(row), '')
  if (o.waiversExpired.length)
    lines.push('## Waivers expired (ignored: the failure decides)', '', ...head, ...o.waiversExpired.map(row), '')
  if (o.waiversUnused.length) lines.push('## Waivers that matched nothing (remove them)', '', ...head, ...o.waiversUnused.map(row), '')
  if (o.advisory.length) {
    lines.push('## Advisory (ran, never decide)', '', '| gate | result | classification | reason |', '|---|---|---|---|')
    for (const g of o.gates.filter((x) => x.status === 'advisory')) {
      lines.push(
        `| ${g.suite}/${g.id} | ${g.policy?.advisory ? `${g.policy.originalStatus.toUpperCase()} (policy.advisory)` : 'ADVISORY (--keep-going after a stop)'} | ${g.classification ?? '-'} | ${(g.reason ?? '-').replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`,
      )
    }
    lines.push('')
  }
  return lines.join('\n')
}
