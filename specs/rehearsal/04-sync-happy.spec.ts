/**
 * E2-3 §5.4 — consumer sync: publish scenario `happy`, consume, the synced tx becomes visible.
 */
import { GateFailure, gate } from '../../helpers/index.ts'
import { cutover, expectedSyncTxId, publishAndConsume, rehearsalProfile } from '../shared/rehearsal.ts'
import { txPath } from '../shared/smoke.ts'

/** The publisher may print a JSON line naming the tx ids it published; prefer it to the template. */
function publishedTxId(stdout: string): string | undefined {
  for (const line of stdout.split('\n').reverse()) {
    const t = line.trim()
    if (!t.startsWith('{')) continue
    try {
      const j = JSON.parse(t) as Record<string, unknown>
      const v = j.sync_tx_id ?? j.payment_tx_id ?? (Array.isArray(j.tx_ids) ? j.tx_ids[0] : undefined)
      if (typeof v === 'string' && v) return v
    } catch {
      /* not JSON */
    }
  }
  return undefined
}

gate(
  {
    id: 'sync-happy',
    suite: 'rehearsal',
    classification: 'SYNC_FAILED',
    needs: ['precheck'],
    evidence: '04_sync_happy.log',
    title: 'the happy-scenario tx published after T_cutover is consumed and becomes visible',
    description:
      'kubectl exec deploy/txlookup-consumer -- python scripts/publish_synthetic_events.py --scenario happy --run-id ${RUN_ID}; kubectl exec deploy/txlookup-consumer -- python -m src.consumer.main consume --max-messages 3 --max-idle-seconds 20',
    timeoutMs: 600_000,
  },
  async (ctx) => {
    const r = rehearsalProfile(ctx)
    // E2-3 §4: the sync range is T_cutover and later; a cut line still ahead (within the guard's
    // buffer) is waited for, so nothing is published before it
    const cut = cutover(ctx)
    const aheadMs = Date.parse(cut.tCutover) - Date.now()
    if (aheadMs > 0) {
      await ctx.evidence.note('waiting for T_cutover', { T_cutover: cut.tCutover, wait_ms: String(aheadMs) })
      await new Promise((res) => setTimeout(res, aheadMs + 1000))
    }
    await ctx.evidence.note('sync range', { SYNC_SINCE: cut.syncSince, published_at_utc: new Date().toISOString() })
    const { publish } = await publishAndConsume(ctx, 'happy', r.happyMaxMessages)
    const txId = publishedTxId(publish.stdout) ?? expectedSyncTxId(ctx)
    ctx.values.set('SYNC_TX_ID', txId)
    await ctx.evidence.note('SYNC_TX_ID', { SYNC_TX_ID: txId })

    // visible through the API within syncTimeoutSeconds (bounded poll: the consumer commits asynchronously)
    const deadline = Date.now() + r.syncTimeoutSeconds * 1000
    let last = 0
    for (let attempt = 1; ; attempt++) {
      const got = await ctx.api.get(`synced tx ${txId} visible (attempt ${attempt}, expect 200)`, txPath(ctx, txId), { expectStatus: 200 })
      last = got.status
      if (got.status === 200) return
      if (Date.now() > deadline) break
      await new Promise((res) => setTimeout(res, 1000))
    }
    throw new GateFailure(`the synced tx ${txId} is not visible ${r.syncTimeoutSeconds}s after consume (last GET answered ${last})`)
  },
)
