/**
 * E2-3 §5.5 — API smoke with tx-missing-${RUN_ID} → 404.
 */
import { gate } from '../../helpers/index.ts'
import { expect404 } from '../shared/smoke.ts'

gate(
  {
    id: 'smoke-404',
    suite: 'rehearsal',
    classification: 'SMOKE_FAILED',
    needs: ['precheck'],
    evidence: '06_smoke_404.log',
    title: 'returns 404 for an unknown tx id',
    description: 'GET http://127.0.0.1:8000/admin/tx/tx-missing-${RUN_ID} in the API pod; print HTTP_CODE, BODY_LEN; expect 404',
  },
  expect404,
)
