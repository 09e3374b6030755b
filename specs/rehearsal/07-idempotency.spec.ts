/**
 * E2-3 §5.6 — idempotency: canonical payload hash before == after replaying scenario `duplicate`.
 */

import type { GateContext } from '../../helpers/index.ts'
import { canonicalPayload, GateFailure, gate } from '../../helpers/index.ts'
import { publishAndConsume, rehearsalProfile, syncTxId } from '../shared/rehearsal.ts'
import { txPath } from '../shared/smoke.ts'

/** E2-3 §5.6's hash of the body as sent (parsed losslessly: number lexemes kept, ensure_ascii), with
 * the canonical text recorded next to it so an operator can reproduce it with the runbook's one-liner. */
async function canonical(ctx: GateContext, label: 'BEFORE' | 'AFTER', txId: string): Promise<string> {
  const r = await ctx.api.get(`${label}: GET ${txId} (expect 200)`, txPath(ctx, txId), { expectStatus: 200, expectJson: true })
  if (r.status !== 200) throw new GateFailure(`${label}_HTTP=${r.status} for ${txId}: the payload cannot be compared`)
  const volatile = ctx.target.api.volatileFields
  let payload: { text: string; sha256: string }
  try {
    payload = canonicalPayload(r.body, volatile)
  } catch (e) {
    throw new GateFailure(`${label}: GET ${txId} answered 200, but ${(e as Error).message}`)
  }
  await ctx.evidence.note(`${label} canonical payload`, {
    [`${label}_HTTP`]: String(r.status),
    [`${label}_CANON_HASH`]: payload.sha256,
    volatile_fields_removed: volatile.join(','),
    canonical_payload: payload.text,
  })
  return payload.sha256
}

gate(
  {
    id: 'idempotency',
    suite: 'rehearsal',
    classification: 'IDEMPOTENCY_FAILED',
    needs: ['sync-happy'],
    inputs: [{ value: 'SYNC_TX_ID', from: 'sync-happy' }],
    evidence: '07_idempotency_duplicate.log',
    title: 'replaying the duplicate scenario leaves the canonical payload unchanged',
    description:
      'BEFORE_CANON_HASH (event_time, data_lag_sec removed, sort_keys, compact) → publish --scenario duplicate → consume --max-messages 6 --max-idle-seconds 20 → AFTER_CANON_HASH; BEFORE == AFTER',
    timeoutMs: 600_000,
  },
  async (ctx) => {
    const r = rehearsalProfile(ctx)
    const txId = syncTxId(ctx)
    const before = await canonical(ctx, 'BEFORE', txId)
    await publishAndConsume(ctx, 'duplicate', r.duplicateMaxMessages)
    const after = await canonical(ctx, 'AFTER', txId)
    await ctx.evidence.note(
      'idempotency verdict',
      { BEFORE_CANON_HASH: before, AFTER_CANON_HASH: after, equal: String(before === after) },
      before === after ? 'pass' : 'fail',
    )
    if (before !== after)
      throw new GateFailure(
        `canonical payload of ${txId} changed after the duplicate replay: ${before.slice(0, 12)}… → ${after.slice(0, 12)}…`,
      )
  },
)
