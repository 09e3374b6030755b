/**
 * Phase 7 / AC review — /health reports every dependency, and each is healthy.
 */
import { GateFailure, gate } from '../../helpers/index.ts'
import { readinessProfile } from '../shared/readiness.ts'

function dependencyStates(body: Record<string, unknown>): Record<string, string> {
  const deps = (body.dependencies ?? body.checks ?? body.services) as Record<string, unknown> | undefined
  if (!deps || typeof deps !== 'object') return {}
  return Object.fromEntries(
    Object.entries(deps).map(([k, v]) => [
      k,
      typeof v === 'string'
        ? v
        : String((v as Record<string, unknown>)?.status ?? (v as Record<string, unknown>)?.state ?? JSON.stringify(v)),
    ]),
  )
}

gate(
  {
    id: 'health',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '01_health.log',
    title: '/health answers 200 and reports every dependency healthy',
    description:
      'curl /health — "Health checks reachable: all services expose /health with dependency validation" (Phase 7); /health must check the DB (AC review, Operations)',
  },
  async (ctx) => {
    const r = await ctx.api.get('GET /health', readinessProfile(ctx).healthPath, { expectStatus: 200 })
    if (r.status !== 200) throw new GateFailure(`/health answered ${r.status}`)
    const body = r.json as Record<string, unknown> | undefined
    if (!body) throw new GateFailure('/health is not JSON: dependency status cannot be read')
    const deps = dependencyStates(body)
    await ctx.evidence.note('dependency status', { overall: String(body.status ?? '-'), ...deps })
    if (!Object.keys(deps).length) throw new GateFailure('/health reports no dependencies (a liveness-only /health does not check the DB)')
    const bad = Object.entries(deps).filter(([, s]) => !/^(ok|up|healthy|pass|ready)$/i.test(s))
    if (bad.length) throw new GateFailure(`/health reports unhealthy dependencies: ${bad.map(([k, s]) => `${k}=${s}`).join(', ')}`)
  },
)
