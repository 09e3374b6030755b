// The in-cluster API smoke shared by the closeout and rehearsal suites (one implementation, two
// suites' tags and evidence names): GET /admin/tx/{id} → 404 for an unknown id, 200 for a known one.

import type { GateContext } from '../../helpers/index.ts'
import { GateFailure } from '../../helpers/index.ts'
import { rehearsalRunId } from './rehearsal.ts'

export function txPath(ctx: GateContext, txId: string): string {
  return ctx.target.api.txPath.replace('{tx_id}', encodeURIComponent(txId))
}

/** The seeds' unknown ids: F3-4 `missing-tx-id` (the profile's api.missingTxId); E2-3 `tx-missing-${RUN_ID}` with RUN_ID=e2-3-… (the
 * profile's api.missingTxIdPrefix + the rehearsal run id). */
export function missingTxId(ctx: GateContext): string {
  return ctx.run.suite === 'rehearsal' ? `${ctx.target.api.missingTxIdPrefix}${rehearsalRunId(ctx)}` : ctx.target.api.missingTxId
}

export async function expect404(ctx: GateContext): Promise<void> {
  const id = missingTxId(ctx)
  const r = await ctx.api.get(`GET ${ctx.target.api.txPath} for unknown id ${id} (expect 404)`, txPath(ctx, id), { expectStatus: 404 })
  if (r.status !== 404) {
    throw new GateFailure(
      `GET ${txPath(ctx, id)} answered ${r.status}, expected 404 for an unknown tx id (body ${r.bodyLength} bytes, sha256 ${r.bodySha256.slice(0, 12)}…)`,
    )
  }
}

export async function expect200(ctx: GateContext, txId: string): Promise<void> {
  const r = await ctx.api.get(`GET ${ctx.target.api.txPath} for known id ${txId} (expect 200)`, txPath(ctx, txId), {
    expectStatus: 200,
    expectJson: true,
  })
  if (r.status !== 200) {
    throw new GateFailure(`GET ${txPath(ctx, txId)} answered ${r.status}, expected 200 for known tx id ${txId}`)
  }
  const body = r.json as Record<string, unknown> | undefined
  if (!body || typeof body !== 'object') throw new GateFailure(`GET ${txPath(ctx, txId)} answered 200 but the body is not JSON`)
  if (body.tx_id !== undefined && body.tx_id !== txId) {
    throw new GateFailure(`GET ${txPath(ctx, txId)} answered 200 for a different transaction (tx_id=${String(body.tx_id)})`)
  }
}

/** The known tx id, resolved deterministically from the DB with the profile's query (plan Task 3 step 2). */
export async function resolveKnownTxId(ctx: GateContext): Promise<string> {
  const db = ctx.target.database
  const r = await ctx.exec(`resolve known tx_id from the DB (${db.deployment})`, {
    deployment: db.deployment,
    container: db.container,
    command: db.knownTxCommand,
  })
  if (r.exitCode !== 0)
    throw new GateFailure(
      `the known-tx query failed in deploy/${db.deployment} (exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`,
    )
  const id = r.stdout
    .split('\n')
    .map((l) => l.trim())
    .find(Boolean)
  if (!id)
    throw new GateFailure(
      `the known-tx query in deploy/${db.deployment} returned no row: the ledger is empty, so a 200 smoke has nothing to look up`,
    )
  await ctx.evidence.note('KNOWN_TX_ID resolved', { KNOWN_TX_ID: id })
  return id
}
