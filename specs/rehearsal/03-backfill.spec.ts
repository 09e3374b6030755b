/**
 * E2-3 §5.1 + §5.3 — synthetic ledger/payment-order JSONL for T_cutover−1h, copied into the API pod,
 * backfill over T_cutover−24h … T_cutover−1s, then the backfilled tx is visible through the API.
 */
import { fillCommand, GateFailure, gate, renderEventTemplate } from '../../helpers/index.ts'
import { cutover, noteFixedInputs, rehearsalProfile, rehearsalRunId } from '../shared/rehearsal.ts'
import { txPath } from '../shared/smoke.ts'

gate(
  {
    id: 'backfill',
    suite: 'rehearsal',
    classification: 'BACKFILL_FAILED',
    needs: ['precheck'],
    evidence: '03_backfill.log',
    title: 'the T_cutover−24h … T_cutover−1s backfill loads the synthetic rows and they are visible',
    description:
      'python -m src.consumer.main backfill --ledger-file /tmp/e2_3_ledger_${RUN_ID}.jsonl --payment-order-file /tmp/e2_3_payment_${RUN_ID}.jsonl --since ${BACKFILL_SINCE} --until ${BACKFILL_UNTIL} (in the API pod)',
    timeoutMs: 600_000,
  },
  async (ctx) => {
    const r = rehearsalProfile(ctx)
    const cut = cutover(ctx)
    const runId = rehearsalRunId(ctx)
    const ts = new Date(Date.parse(cut.tCutover) - 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    await noteFixedInputs(ctx, cut)
    await ctx.evidence.note('synthetic rows (E2-3 §5.1: T_cutover−1h)', { row_ts: ts })

    const ledger = renderEventTemplate('ledger.jsonl.tmpl', { run_id: runId, ts })
    const payment = renderEventTemplate('payment-order.jsonl.tmpl', { run_id: runId, ts })
    await ctx.evidence.attach(`03_backfill_ledger_${runId}.jsonl`, ledger)
    await ctx.evidence.attach(`03_backfill_payment_${runId}.jsonl`, payment)

    const api = ctx.target.api
    const ledgerFile = `${r.uploadDir}/e2_3_ledger_${runId}.jsonl`
    const paymentFile = `${r.uploadDir}/e2_3_payment_${runId}.jsonl`
    for (const [file, content] of [
      [ledgerFile, ledger],
      [paymentFile, payment],
    ] as const) {
      const c = await ctx.exec(`copy ${file} into the API pod`, {
        deployment: api.deployment,
        container: api.container,
        command: ['sh', '-c', 'cat > "$1"', 'sh', file],
        stdin: content,
      })
      if (c.exitCode !== 0)
        throw new GateFailure(`could not copy ${file} into deploy/${api.deployment} (exit ${c.exitCode}): ${c.stderr.trim()}`)
    }

    const cmd = fillCommand(r.backfillCommand, { ledgerFile, paymentFile, since: cut.backfillSince, until: cut.backfillUntil })
    const b = await ctx.exec('backfill', { deployment: api.deployment, container: api.container, command: cmd, timeoutMs: 300_000 })
    if (b.exitCode !== 0)
      throw new GateFailure(
        `backfill exited ${b.exitCode ?? 'without status'}: ${(b.error ?? b.stderr).trim().split('\n').slice(-1)[0] ?? ''}`,
      )

    const txId = `tx-bf-pay-${runId}`
    const got = await ctx.api.get(`backfilled tx ${txId} is visible (expect 200)`, txPath(ctx, txId), { expectStatus: 200 })
    if (got.status !== 200) throw new GateFailure(`backfill exited 0 but ${txId} is not visible: GET answered ${got.status}`)
  },
)
