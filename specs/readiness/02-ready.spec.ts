/**
 * AC review Phase 2 — /ready exists for the readiness probe and answers 200 when dependencies are up.
 */
import { GateFailure, gate } from '../../helpers/index.ts'
import { readinessProfile } from '../shared/readiness.ts'

gate(
  {
    id: 'ready',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '02_ready.log',
    title: '/ready answers 200 while the database is reachable',
    description: 'curl /ready — "/ready must verify DB connectivity" (AC review, Operations); K8s readinessProbe target',
  },
  async (ctx) => {
    const r = await ctx.api.get('GET /ready', readinessProfile(ctx).readyPath, { expectStatus: 200 })
    if (r.status !== 200) throw new GateFailure(`/ready answered ${r.status} while the service is expected to take traffic`)
  },
)
