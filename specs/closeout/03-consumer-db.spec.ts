/**
 * F3-4 Task 2 step 3 — DB connectivity from inside the consumer pod, explicit success marker.
 */
import { GateFailure, gate } from '../../helpers/index.ts'
import { probeFromConsumer } from '../shared/probe.ts'

gate(
  {
    id: 'consumer-db',
    suite: 'closeout',
    classification: 'STARTUP_FAILED',
    needs: ['consumer-rollout'],
    evidence: '03_consumer_db_connectivity.log',
    title: 'the consumer pod reaches the database and prints db_connectivity_ok',
    description:
      'kubectl -n txlookup exec deploy/txlookup-consumer -- <DB probe: SELECT 1 with $DATABASE_URL>; print("db_connectivity_ok"); plus the consumer logs (--tail=400)',
  },
  async (ctx) => {
    const p = ctx.target.consumer.dbProbe
    const r = await probeFromConsumer(ctx, 'DB connectivity probe', p.command, p.marker)
    if (!r.ok) throw new GateFailure(r.reason)
  },
)
