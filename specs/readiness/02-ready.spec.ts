/**
 * AC review Phase 2 — /ready (the readinessProbe target) answers 200 while the database is reachable.
 */
import { GateFailure, gate } from '../../helpers/index.ts'
import { dependencyStates, HEALTHY, readinessProfile } from '../shared/readiness.ts'

gate(
  {
    id: 'ready',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '02_ready.log',
    title: '/ready answers 200 while the database is reachable',
    description:
      'AC review Phase 2 task "Add /ready endpoint (DB + key check)" and Operations "/ready must verify DB connectivity": curl /ready must answer 200 while /health reports the db dependency ok (read-only half; "/ready returns 503 when DB unreachable" needs the disruptive ready-db-outage gate)',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    // the db dependency first: a 200 from /ready only means "ready while the database is reachable" if it is
    const h = await ctx.api.get('GET /health (db dependency)', p.healthPath)
    const name = p.dependencies?.database ?? 'db'
    const db = dependencyStates((h.json as Record<string, unknown> | undefined) ?? {})[name]
    const r = await ctx.api.get('GET /ready', p.readyPath, { expectStatus: 200 })
    await ctx.evidence.note(
      'ready while the database is reachable',
      { [`health_${name}`]: db ?? 'not reported', ready_status: String(r.status) },
      db && HEALTHY.test(db) && r.status === 200 ? 'pass' : 'fail',
    )
    if (!db)
      throw new GateFailure(
        `/health reports no ${name} dependency (readiness.dependencies.database): whether the database is reachable cannot be read, so a 200 from ${p.readyPath} proves nothing`,
      )
    if (!HEALTHY.test(db))
      throw new GateFailure(
        `/health reports ${name}=${db}: the database is not reachable, so /ready cannot be checked in its "reachable" state`,
      )
    if (r.status !== 200) throw new GateFailure(`${p.readyPath} answered ${r.status} while the database is reachable`)
  },
)
