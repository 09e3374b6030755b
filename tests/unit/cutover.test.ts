// The E2-3 §4 T_cutover policy: UTC ISO8601, one cut line per run, the ±buffer operator guard on
// every invocation (a --run-id rerun too), and the backfill window T_cutover−24h … T_cutover−1s.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import { GateBlocked } from '../../helpers/classification.ts'
import { type GateContext, RunValues } from '../../helpers/harness.ts'
import { cutover } from '../../specs/shared/rehearsal.ts'

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

function ctx(opts: { runId: string; invocation: number; startedAt: string; cutover?: string }): GateContext {
  return {
    run: {
      runId: opts.runId,
      invocation: opts.invocation,
      startedAt: opts.startedAt,
      allowMutations: false,
      allowDisruption: false,
      suite: 'rehearsal',
      gate: 'precheck',
    },
    target: { name: 'unit', rehearsal: { cutover: opts.cutover ?? '', bufferMinutes: 5 } },
    values: new RunValues(opts.runId),
  } as unknown as GateContext
}

describe('T_cutover', () => {
  beforeEach(() => {
    process.env.CLOSEOUT_REPORTS_DIR = join(mkdtempSync(join(tmpdir(), 'cutover-')), 'reports')
  })

  test("defaults to the run's start (whole seconds, Z) and derives the backfill window from it", () => {
    const start = Date.now() - 2_000
    const c = cutover(ctx({ runId: 'r1', invocation: 1, startedAt: new Date(start).toISOString() }))
    expect(c.tCutover).toBe(iso(start))
    expect(Date.parse(c.tCutover) - Date.parse(c.backfillSince)).toBe(24 * 3_600_000)
    expect(Date.parse(c.tCutover) - Date.parse(c.backfillUntil)).toBe(1000)
    expect(c.syncSince).toBe(c.tCutover)
  })

  test('an operator-given cut line outside ±5 min blocks the rehearsal (ENVIRONMENT_BLOCKED) with what to do', () => {
    const stale = iso(Date.now() - 10 * 60_000)
    expect(() => cutover(ctx({ runId: 'r2', invocation: 1, startedAt: new Date().toISOString(), cutover: stale }))).toThrow(GateBlocked)
    expect(() => cutover(ctx({ runId: 'r2', invocation: 1, startedAt: new Date().toISOString(), cutover: stale }))).toThrow(
      /outside the ±5 min buffer.*set a new T_cutover/,
    )
    expect(() =>
      cutover(ctx({ runId: 'r3', invocation: 1, startedAt: new Date().toISOString(), cutover: iso(Date.now() + 4 * 60_000) })),
    ).not.toThrow()
  })

  test('a value that is not UTC ISO8601 is refused', () => {
    expect(() => cutover(ctx({ runId: 'r4', invocation: 1, startedAt: new Date().toISOString(), cutover: '2026-11-22 10:00' }))).toThrow(
      /must be UTC ISO8601/,
    )
  })

  test('the guard holds for the whole invocation, and a later rerun of a stale run is blocked', () => {
    const start = Date.now() - 10 * 60_000
    // the first invocation passed its guard ten minutes ago (its own start was the cut line) …
    const first = ctx({ runId: 'r5', invocation: 1, startedAt: new Date(start).toISOString() })
    first.values.set('T_cutover', iso(start))
    first.values.set('T_cutover_guard_invocation', 1)
    expect(cutover(first).tCutover).toBe(iso(start)) // later gates of the same invocation are not re-guarded
    // … a --run-id rerun now is a new invocation: the same cut line is stale
    expect(() => cutover(ctx({ runId: 'r5', invocation: 2, startedAt: new Date(start).toISOString() }))).toThrow(
      /this run's start.*10 min ago.*without --run-id/,
    )
  })
})
