/**
 * Phase 7 §1 / AC review Operations — every /health answers 200 and reports the profile's dependencies, each ok.
 */
import { GateFailure, gate } from '../../helpers/index.ts'
import { consumerGet, dependencyProblems, dependencyStates, readinessProfile, requireReadiness } from '../shared/readiness.ts'

gate(
  {
    id: 'health',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '01_health.log',
    title: "/health of the API and the consumer answers 200 and reports the profile's dependencies ok",
    description:
      'Phase 7 exit criterion "Health checks reachable: all services expose /health with dependency validation" ([Database, Redis, Outbox]) and AC review Operations "/health too simple (doesn\'t check DB)": curl the API /health and the consumer /health; each must report every dependency of readiness.dependencies as ok',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    const deps = requireReadiness(ctx, 'dependencies', 'dependencies: { api: [db, redis], consumer: [db, redis, broker] }')
    const problems: string[] = []
    const checks = [
      { who: 'API', required: deps.api, get: () => ctx.api.get('GET /health', p.healthPath, { expectStatus: 200 }) },
      ...(deps.consumer
        ? [{ who: 'consumer', required: deps.consumer, get: () => consumerGet(ctx, `consumer GET ${p.healthPath}`, p.healthPath) }]
        : []),
    ]
    for (const c of checks) {
      const r = await c.get()
      const body = r.json as Record<string, unknown> | undefined
      const states = body ? dependencyStates(body) : {}
      const bad = [
        ...(r.status !== 200 ? [`answered ${r.status}`] : []),
        ...(body ? dependencyProblems(states, c.required) : ['body is not JSON']),
      ]
      await ctx.evidence.note(
        `${c.who} dependency status`,
        { overall: String(body?.status ?? '-'), required: c.required.join(', '), ...states },
        bad.length ? 'fail' : 'pass',
      )
      problems.push(...bad.map((b) => `${c.who} /health: ${b}`))
    }
    if (problems.length) throw new GateFailure(problems.join('; '))
  },
)
