/**
 * E2-3 §5.5 — API smoke with the synced tx id → 200 (sha256 + length recorded).
 */
import { gate } from '../../helpers/index.ts'
import { syncTxId } from '../shared/rehearsal.ts'
import { expect200 } from '../shared/smoke.ts'

gate(
  {
    id: 'smoke-200',
    suite: 'rehearsal',
    classification: 'SMOKE_FAILED',
    needs: ['sync-happy'],
    inputs: [{ value: 'SYNC_TX_ID', from: 'sync-happy' }],
    evidence: '05_smoke_200.log',
    title: 'returns 200 for the synced tx id',
    description: 'GET http://127.0.0.1:8000/admin/tx/${SYNC_TX_ID} in the API pod; print HTTP_CODE, BODY_SHA256, BODY_LEN; expect 200',
  },
  async (ctx) => {
    await expect200(ctx, syncTxId(ctx))
  },
)
