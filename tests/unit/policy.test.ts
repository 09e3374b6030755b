import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { decide } from '../../helpers/decision.ts'
import {
  applyPolicy,
  checkPolicyGates,
  countsForDecision,
  type DecisionPolicy,
  PolicySchema,
  policyMarkdown,
} from '../../helpers/policy.ts'
import { loadProfile, ProfileError } from '../../helpers/profile.ts'

const now = new Date('2026-12-01T12:00:00Z')
// the freshness-breach fault: every gate passed except consumer-freshness
const run = () => [
  { id: 'baseline', suite: 'closeout', status: 'passed', classification: null, reason: null },
  { id: 'smoke-200', suite: 'closeout', status: 'passed', classification: null, reason: null },
  { id: 'consumer-lag', suite: 'closeout', status: 'passed', classification: null, reason: null },
  {
    id: 'consumer-freshness',
    suite: 'closeout',
    status: 'failed',
    classification: 'FRESHNESS_SLO_BREACHED',
    reason: 'max freshness 42 s > SLO 5 s',
  },
]
const waiver = (expiresAt: string, extra: Partial<DecisionPolicy['waivers'][number]> = {}) => ({
  gate: 'consumer-freshness',
  classification: 'FRESHNESS_SLO_BREACHED' as const,
  reason: 'consumer catch-up after the reload, tracked',
  owner: 'data-platform',
  ticket: 'OPS-4711',
  expiresAt,
  ...extra,
})
/** the decision as the finalizer takes it: decide() over the gates that count */
const decideWith = (policy: DecisionPolicy) => {
  const o = applyPolicy(run(), policy, now)
  return { o, decision: decide(o.gates.filter(countsForDecision) as Parameters<typeof decide>[0]) }
}

describe('decision policy', () => {
  it('without a policy the freshness breach is NO_GO', () => {
    expect(decideWith({ waivers: [], advisory: [] }).decision).toBe('NO_GO')
  })

  it('a waiver in force turns the breach into WAIVED and the decision GO, listed with its ticket', () => {
    const { o, decision } = decideWith({ waivers: [waiver('2026-12-31T00:00:00Z')], advisory: [] })
    expect(decision).toBe('GO')
    const g = o.gates.find((x) => x.id === 'consumer-freshness')!
    expect(g.status).toBe('waived')
    expect(g.classification).toBe('FRESHNESS_SLO_BREACHED')
    expect(g.reason).toContain('OPS-4711')
    expect(g.reason).toContain('max freshness 42 s')
    expect(o.waiversInForce.map((w) => w.ticket)).toEqual(['OPS-4711'])
    expect(policyMarkdown(o)).toContain('## Waivers in force')
  })

  it('an expired waiver is ignored (NO_GO) and reported as expired', () => {
    const { o, decision } = decideWith({ waivers: [waiver('2026-11-30T00:00:00Z')], advisory: [] })
    expect(decision).toBe('NO_GO')
    expect(o.gates.find((x) => x.id === 'consumer-freshness')!.status).toBe('failed')
    expect(o.waiversExpired).toHaveLength(1)
    expect(o.waiversInForce).toHaveLength(0)
    expect(policyMarkdown(o)).toContain('Waivers expired')
  })

  it('a waiver for another classification or another suite does not match', () => {
    expect(decideWith({ waivers: [waiver('2026-12-31T00:00:00Z', { classification: 'SMOKE_FAILED' })], advisory: [] }).decision).toBe(
      'NO_GO',
    )
    const o = decideWith({ waivers: [waiver('2026-12-31T00:00:00Z', { gate: 'rehearsal/consumer-freshness' })], advisory: [] })
    expect(o.decision).toBe('NO_GO')
    expect(o.o.waiversUnused).toHaveLength(1)
  })

  it('an advisory failure leaves GO and is reported in the advisory section', () => {
    const { o, decision } = decideWith({ waivers: [], advisory: ['closeout/consumer-freshness'] })
    expect(decision).toBe('GO')
    expect(o.advisory).toEqual(['closeout/consumer-freshness'])
    expect(o.gates.find((x) => x.id === 'consumer-freshness')!.policy?.originalStatus).toBe('failed')
    expect(policyMarkdown(o)).toMatch(/Advisory[\s\S]*closeout\/consumer-freshness \| FAILED/)
  })

  it('only advisory gates is not a GO (nothing decided)', () => {
    const o = applyPolicy(run().slice(0, 1), { waivers: [], advisory: ['baseline'] }, now)
    expect(decide(o.gates.filter(countsForDecision) as Parameters<typeof decide>[0])).toBe('BLOCKED')
  })

  it('rejects waiving a could-not-check classification, an undated waiver and unknown keys, with key paths', () => {
    const bad = PolicySchema.safeParse({ waivers: [{ ...waiver('2026-12-31'), classification: 'MONITORING_ACCESS_BLOCKED', extra: 1 }] })
    expect(bad.success).toBe(false)
    const msgs = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')
    expect(msgs).toMatch(/waivers\.0\.classification: a "could not check"/)
    expect(msgs).toMatch(/waivers\.0\.expiresAt: must be a UTC ISO 8601/)
    expect(bad.error!.issues.some((i) => i.code === 'unrecognized_keys')).toBe(true)
  })

  it('names policy entries for gates the catalogue lacks', () => {
    const p = PolicySchema.parse({
      waivers: [waiver('2026-12-31T00:00:00Z', { gate: 'consumer-fresness' })],
      advisory: ['readiness/dlq-backlog'],
    })
    expect(
      checkPolicyGates(p, [
        { id: 'consumer-freshness', suite: 'closeout' },
        { id: 'dlq-backlog', suite: 'readiness' },
      ]),
    ).toEqual(['policy.waivers[0].gate: no gate "consumer-fresness" in the catalogue (./closeout test --list shows the ids)'])
  })

  it('the profile loader validates the policy section with key paths', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'))
    const base = loadProfileText('fixtures/targets/local.yaml')
    const file = join(dir, 't.yaml')
    writeFileSync(
      file,
      `${base}\npolicy:\n  waivers:\n    - gate: consumer-freshness\n      classification: FRESHNESS_SLO_BREACHED\n      reason: short\n      owner: x\n      ticket: T-1\n      expiresAt: tomorrow\n`,
    )
    expect(() => loadProfile(file)).toThrow(ProfileError)
    try {
      loadProfile(file)
    } catch (e) {
      expect((e as ProfileError).problems.join('\n')).toMatch(/policy\.waivers\[0\]\.expiresAt: must be a UTC ISO 8601/)
      expect((e as ProfileError).problems.join('\n')).toMatch(/policy\.waivers\[0\]\.reason: say why/)
    }
    expect(loadProfile('fixtures/targets/local.yaml').policy).toEqual({ waivers: [], advisory: [] })
  })
})

function loadProfileText(f: string): string {
  return readFileSync(f, 'utf8')
}
