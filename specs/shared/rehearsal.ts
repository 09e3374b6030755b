// E2-3 fixed inputs shared by the rehearsal gates: the rehearsal run id, T_cutover (UTC, the single
// cut line) with its ±buffer guard, the backfill window and the synced tx id.

import type { ExecResult, GateContext } from '../../helpers/index.ts'
import { fillCommand, GateBlocked, GateFailure, type TargetProfile } from '../../helpers/index.ts'

export type RehearsalProfile = NonNullable<TargetProfile['rehearsal']>

export function rehearsalProfile(ctx: GateContext): RehearsalProfile {
  if (!ctx.target.rehearsal)
    throw new GateBlocked(`target profile ${ctx.target.name} has no rehearsal: section (commands for migrate, backfill, publish, consume)`)
  return ctx.target.rehearsal
}

/** RUN_ID=e2-3-<stamp> as in the runbook; stable across one-gate reruns of the same run. */
export function rehearsalRunId(ctx: GateContext): string {
  return `e2-3-${ctx.run.runId.replace(/[^0-9A-Za-z]/g, '')}`
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export interface Cutover {
  tCutover: string
  backfillSince: string
  backfillUntil: string
  syncSince: string
  bufferMinutes: number
}

/** T_cutover: the profile's value (UTC ISO8601, …Z) or the run's start, kept for the whole run.
 * The E2-3 operator guard: each invocation (a first run or a --run-id rerun) starts within
 * ±bufferMinutes of T_cutover, else the cut line is stale and a new rehearsal is needed. */
export function cutover(ctx: GateContext): Cutover {
  const r = rehearsalProfile(ctx)
  const t = ctx.values.getOrSet<string>('T_cutover', () => r.cutover || isoSeconds(new Date(ctx.run.startedAt)))
  if (!ISO_UTC.test(t))
    throw new GateBlocked(`T_cutover "${t}" must be UTC ISO8601 like 2026-11-22T10:00:00Z (set rehearsal.cutover / T_CUTOVER)`)
  const tc = Date.parse(t)
  if (ctx.values.get<number>('T_cutover_guard_invocation') !== ctx.run.invocation) {
    const driftMs = Date.now() - tc
    if (Math.abs(driftMs) > r.bufferMinutes * 60_000) {
      const when = `${Math.round(Math.abs(driftMs) / 60_000)} min ${driftMs > 0 ? 'ago' : 'from now'}`
      throw new GateBlocked(
        `T_cutover ${t}${r.cutover ? '' : " (this run's start)"} is ${when}, outside the ±${r.bufferMinutes} min buffer of E2-3 §4: set a new T_cutover${r.cutover ? ' (rehearsal.cutover / T_CUTOVER)' : ''} and rerun the full rehearsal (pnpm test --tag rehearsal, without --run-id)`,
      )
    }
    ctx.values.set('T_cutover_guard_invocation', ctx.run.invocation)
  }
  return {
    tCutover: t,
    backfillSince: isoSeconds(new Date(tc - 24 * 3_600_000)),
    backfillUntil: isoSeconds(new Date(tc - 1000)),
    syncSince: t,
    bufferMinutes: r.bufferMinutes,
  }
}

/** The fixed inputs of E2-3 §2/§4, as an evidence note. */
export async function noteFixedInputs(ctx: GateContext, cut: Cutover): Promise<void> {
  await ctx.evidence.note('fixed inputs', {
    RUN_ID: rehearsalRunId(ctx),
    T_cutover: cut.tCutover,
    BACKFILL_SINCE: cut.backfillSince,
    BACKFILL_UNTIL: cut.backfillUntil,
    SYNC_SINCE: cut.syncSince,
    buffer: `±${cut.bufferMinutes} min`,
  })
}

/** The happy scenario's tx id as the publisher names it, else the profile's template. */
export function expectedSyncTxId(ctx: GateContext): string {
  return rehearsalProfile(ctx).syncTxId.replace('{runId}', rehearsalRunId(ctx))
}

/** The tx id sync-happy synced in this run (gates that read it declare `inputs: SYNC_TX_ID`, so the
 * harness blocks them, naming sync-happy, when it was not run). */
export function syncTxId(ctx: GateContext): string {
  const stored = ctx.values.get<string>('SYNC_TX_ID')
  if (!stored)
    throw new GateBlocked('SYNC_TX_ID is not set: sync-happy did not run in this run; run the full rehearsal (pnpm test --tag rehearsal)')
  return stored
}

/** E2-3 §5.4/§5.6: publish a synthetic scenario from the consumer pod, then consume it. */
export async function publishAndConsume(
  ctx: GateContext,
  scenario: 'happy' | 'duplicate',
  maxMessages: number,
): Promise<{ publish: ExecResult; consume: ExecResult }> {
  const r = rehearsalProfile(ctx)
  const c = ctx.target.consumer
  const lastLine = (x: ExecResult) => (x.error ?? x.stderr).trim().split('\n').slice(-1)[0] ?? ''
  const publish = await ctx.exec(`publish scenario ${scenario}`, {
    deployment: c.deployment,
    container: c.container,
    command: fillCommand(r.publishCommand, { scenario, runId: rehearsalRunId(ctx) }),
  })
  if (publish.exitCode !== 0)
    throw new GateFailure(`publish (${scenario}) exited ${publish.exitCode ?? 'without status'}: ${lastLine(publish)}`)
  const consume = await ctx.exec('consume', {
    deployment: c.deployment,
    container: c.container,
    command: fillCommand(r.consumeCommand, { maxMessages: String(maxMessages) }),
    timeoutMs: 120_000,
  })
  if (consume.exitCode !== 0) throw new GateFailure(`consume exited ${consume.exitCode ?? 'without status'}: ${lastLine(consume)}`)
  return { publish, consume }
}
