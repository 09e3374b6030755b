// Shared by the readiness gates (AC operational-readiness review, Phase 7 ops runbook, Week 4 brief).

import type { GateContext, HttpResult, TargetProfile } from '../../helpers/index.ts'
import { GateBlocked } from '../../helpers/index.ts'

export type ReadinessProfile = NonNullable<TargetProfile['readiness']>

export function readinessProfile(ctx: GateContext): ReadinessProfile {
  if (!ctx.target.readiness) throw new GateBlocked(`target profile ${ctx.target.name} has no readiness: section`)
  return ctx.target.readiness
}

/** A readiness key the gate cannot check without: BLOCKED naming its key path and what to write. */
export function requireReadiness<K extends keyof ReadinessProfile>(
  ctx: GateContext,
  key: K,
  example: string,
): NonNullable<ReadinessProfile[K]> {
  const v = readinessProfile(ctx)[key]
  if (v === undefined || v === null)
    throw new GateBlocked(
      `target profile ${ctx.target.name} has no readiness.${String(key)} (add it, e.g. ${example}; see fixtures/targets/README.md)`,
    )
  return v as NonNullable<ReadinessProfile[K]>
}

/** GET a path of the consumer's HTTP port (readiness.consumerMetricsPort) through a port-forward the harness closes. */
export async function consumerGet(ctx: GateContext, step: string, path: string): Promise<HttpResult> {
  const port = requireReadiness(ctx, 'consumerMetricsPort', 'consumerMetricsPort: 8000')
  const deployment = ctx.target.consumer.deployment
  const pf = await ctx.kube.portForward({ deployment }, port)
  return ctx.api.getUrl(step, new URL(path, pf.localUrl).toString(), `port-forward deploy/${deployment}:${port}`, { expectStatus: 200 })
}

/** name → state of the dependencies a /health body reports (dependencies / checks / services, string or {status}). */
export function dependencyStates(body: Record<string, unknown>): Record<string, string> {
  const deps = (body.dependencies ?? body.checks ?? body.services) as Record<string, unknown> | undefined
  if (!deps || typeof deps !== 'object') return {}
  return Object.fromEntries(
    Object.entries(deps).map(([k, v]) => {
      const o = (v ?? {}) as Record<string, unknown>
      return [k, typeof v === 'string' ? v : String(o.status ?? o.state ?? JSON.stringify(v))]
    }),
  )
}

export const HEALTHY = /^(ok|up|healthy|pass|ready)$/i

/** Which required dependencies are absent from, or not ok in, a /health report. */
export function dependencyProblems(states: Record<string, string>, required: readonly string[]): string[] {
  return required.flatMap((d) => (!(d in states) ? [`${d} not reported`] : HEALTHY.test(states[d]) ? [] : [`${d}=${states[d]}`]))
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g
const CARD = /\b(?:\d[ -]?){13,19}\b/g

function luhn(digits: string): boolean {
  let sum = 0
  let alt = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let n = digits.charCodeAt(i) - 48
    if (alt) {
      n *= 2
      if (n > 9) n -= 9
    }
    sum += n
    alt = !alt
  }
  return sum % 10 === 0
}

export interface LogFinding {
  kind: string
  line: number
  /** never the matched value itself: a finding must not leak what it found */
  excerpt: string
}

/** PII (emails, Luhn-valid card numbers, profile patterns) and secrets (redactor patterns) in log text. */
export function scanLogText(text: string, redact: (s: string) => string, extra: readonly string[]): LogFinding[] {
  const findings: LogFinding[] = []
  const extraRes = extra.map((p) => new RegExp(p, 'g'))
  text.split('\n').forEach((line, i) => {
    const mask = (s: string) => redact(s).replace(EMAIL, '<email>').replace(CARD, '<number>').slice(0, 160)
    if (EMAIL.test(line)) findings.push({ kind: 'email address', line: i + 1, excerpt: mask(line) })
    EMAIL.lastIndex = 0
    for (const m of line.match(CARD) ?? []) {
      const d = m.replace(/\D/g, '')
      if (d.length >= 13 && luhn(d)) findings.push({ kind: 'card number (Luhn-valid)', line: i + 1, excerpt: mask(line) })
    }
    if (redact(line) !== line) findings.push({ kind: 'secret (token, password or key)', line: i + 1, excerpt: mask(line) })
    for (const re of extraRes) {
      re.lastIndex = 0
      if (re.test(line)) findings.push({ kind: `profile pattern ${re.source}`, line: i + 1, excerpt: mask(line) })
    }
  })
  return findings
}
