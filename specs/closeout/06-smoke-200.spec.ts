/**
 * F3-4 Task 3 step 2 — known tx id resolved from the DB, then GET → 200 (sha256 + length recorded).
 */
import { gate } from '../../helpers/index.ts'
import { expect200, resolveKnownTxId } from '../shared/smoke.ts'

gate(
  {
    id: 'smoke-200',
    suite: 'closeout',
    classification: 'SMOKE_FAILED',
    needs: ['baseline'],
    evidence: '06_api_smoke_200.log',
    title: 'returns 200 for the latest tx id in the ledger',
    description:
      'KNOWN_TX_ID=$(kubectl -n txlookup exec deploy/txlookup-postgres -- psql -U bo -d bo -At -c "select tx_id from bo.ledger_entries order by event_time desc limit 1;"); curl …/admin/tx/${KNOWN_TX_ID} → 200',
  },
  async (ctx) => {
    await expect200(ctx, await resolveKnownTxId(ctx))
  },
)
