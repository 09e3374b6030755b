/**
 * F3-4 Task 3 step 1 — in-cluster smoke: an unknown tx id answers 404.
 */
import { gate } from '../../helpers/index.ts'
import { expect404 } from '../shared/smoke.ts'

gate(
  {
    id: 'smoke-404',
    suite: 'closeout',
    classification: 'SMOKE_FAILED',
    needs: ['baseline'],
    evidence: '05_api_smoke_404.log',
    title: 'returns 404 for an unknown tx id',
    description:
      'curl -sS -o /tmp/f3_4_tx_404.json -w "%{http_code}" http://tx-lookup-api.txlookup.svc.cluster.local:8000/admin/tx/missing-tx-id → 404',
  },
  expect404,
)
