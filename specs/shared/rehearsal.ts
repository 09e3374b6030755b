// E2-3 fixed inputs shared by the rehearsal gates: the rehearsal run id, T_cutover (UTC, the single
// cut line) with its ±buffer guard, the backfill window and the synced tx id.
import { GateBlocked } from '../../helpers/classification.ts'
import type { GateContext } from '../../helpers/harness.ts'
import type { TargetProfile } from '../../helpers/profile.ts'

export type RehearsalProfile = NonNullable<TargetProfile['rehearsal']>

export function rehearsalProfile(ctx: GateContext): RehearsalProfile {
  if (!ctx.target.rehearsal) throw new GateBlocked(`target profile ${ctx.target.name} has no rehearsal: section (commands for migrate, backfill, publish, consume)`)
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

/** T_cutover: the profile's value (UTC ISO8601, …Z) or the run's start; guarded to now ± buffer. */
export function cutover(ctx: GateContext): Cutover {
  const r = rehearsalProfile(ctx)
  const t = ctx.values.getOrSet<string>('T_cutover', () => r.cutover || isoSeconds(new Date(ctx.run.startedAt)))
  if (!ISO_UTC.test(t)) throw new GateBlocked(`T_cutover "${t}" must be UTC ISO8601 like 2026-11-22T10:00:00Z (set rehearsal.cutover / T_CUTOVER)`)
  const tc = Date.parse(t)
  const drift = Math.abs(Date.now() - tc)
  // the E2-3 guard: the rehearsal runs within ±bufferMinutes of T_cutover; the run's own start is
  // always inside, an operator-given cut line outside the window means a new T_cutover is needed
  if (r.cutover && drift > r.bufferMinutes * 60_000 && !ctx.values.get('T_cutover_guard_ok')) {
    throw new GateBlocked(`T_cutover ${t} is ${Math.round(drift / 60_000)} min from now, outside the ±${r.bufferMinutes} min buffer; set a new T_cutover and rerun the full rehearsal`)
  }
  ctx.values.set('T_cutover_guard_ok', true)
  return {
    tCutover: t,
    backfillSince: isoSeconds(new Date(tc - 24 * 3_600_000)),
    backfillUntil: isoSeconds(new Date(tc - 1000)),
    syncSince: t,
    bufferMinutes: r.bufferMinutes,
  }
}

export function syncTxId(ctx: GateContext): string {
  const stored = ctx.values.get<string>('SYNC_TX_ID')
  return stored ?? rehearsalProfile(ctx).syncTxId.replace('{runId}', rehearsalRunId(ctx))
}
