// gate(): one runbook check = one vitest test with its tags, its needs, its classification and its
// evidence file. Chainsaw's shape: the body is `try`, diagnostics on failure are `catch`, the
// evidence footer and the persisted result are `finally`.
import { test as base } from 'vitest'
import * as allure from 'allure-js-commons'
import { join } from 'node:path'
import { GateFailure, isBlockingClassification, type Classification } from './classification.ts'
import { type SuiteName, SUITES } from './suites.ts'
import { bundleDir, readGateResult, writeGateResult, type GateResult } from './run-state.ts'
import { GateEvidence, isoNow } from './evidence.ts'
import { classifyError, collectDiagnostics, getWorkerHarness, type GateContext, type WorkerHarness } from './harness.ts'

export interface GateDef {
  /** stable id, also a vitest tag (and the --tag for a one-gate rerun) */
  id: string
  suite: SuiteName
  /** classification when the check fails (access problems classify ENVIRONMENT_/MONITORING_ACCESS_BLOCKED) */
  classification: Classification
  /** gates of the same suite that must have passed; otherwise this one is BLOCKED and does not run */
  needs?: string[]
  /** the bundle file this gate writes (names follow the seeds) */
  evidence: string
  /** the expected result, as a test title: "returns 404 for an unknown tx id" */
  title: string
  /** the runbook text this gate automates */
  description: string
  /** changes the target (only with --allow-mutations) */
  mutates?: boolean
  /** disrupts the target (opt-in: --allow-disruption); skipped otherwise */
  disrupts?: boolean
  timeoutMs?: number
}

export type GateBody = (ctx: GateContext) => Promise<void>

const DEFINE_ONLY = Symbol.for('closeout.defineOnly')
type Registry = { defs: GateDef[]; file?: string }

/** Catalog mode: specs are imported to read their definitions, nothing runs. */
export function startCatalogCollection(): Registry {
  const reg: Registry = { defs: [] }
  ;(globalThis as Record<symbol, unknown>)[DEFINE_ONLY] = reg
  return reg
}

export function stopCatalogCollection(): void {
  delete (globalThis as Record<symbol, unknown>)[DEFINE_ONLY]
}

function catalogRegistry(): Registry | undefined {
  return (globalThis as Record<symbol, unknown>)[DEFINE_ONLY] as Registry | undefined
}

/** The vitest test with the harness as a worker-scoped fixture (clients are created lazily, once).
 * Built on first use: test.extend needs a running vitest, and catalog mode has none. */
function makeGateTest() {
  return base.extend<{ harness: WorkerHarness }>({
    harness: [
      // eslint-disable-next-line no-empty-pattern
      async ({}, use) => {
        await use(getWorkerHarness())
      },
      { scope: 'worker' } as never,
    ],
  })
}
let gateTestInstance: ReturnType<typeof makeGateTest> | undefined
export function gateTest(): ReturnType<typeof makeGateTest> {
  gateTestInstance ??= makeGateTest()
  return gateTestInstance
}

export function gate(def: GateDef, body: GateBody): void {
  const reg = catalogRegistry()
  if (reg) {
    reg.defs.push(def)
    return
  }
  const tags = [def.suite, def.id, def.classification]
  gateTest()(`${def.id}: ${def.title}`, { tags, timeout: def.timeoutMs ?? 300_000 }, async ({ harness, skip }) => {
    await runGate(def, body, harness, skip)
  })
}

async function allureLabels(def: GateDef, h: WorkerHarness): Promise<void> {
  await allure.parentSuite(SUITES[def.suite].title)
  await allure.suite(def.suite)
  await allure.label('gate', def.id)
  await allure.owner(h.profile.owner)
  await allure.description(`${def.description}\n\nEvidence: ${def.evidence}`)
  await allure.tags(def.suite, def.id, def.classification)
  await allure.parameter('target', h.profile.name)
  await allure.parameter('run_id', h.run.runId)
}

async function runGate(def: GateDef, body: GateBody, h: WorkerHarness, skip: (note?: string) => never): Promise<void> {
  const startedAt = isoNow()
  const t0 = performance.now()
  const dir = bundleDir(h.run.runId, def.suite)
  const evidence = new GateEvidence({
    gateId: def.id,
    suite: def.suite,
    file: join(dir, def.evidence),
    owner: h.profile.owner,
    redactor: h.redactor,
    excerptBytes: h.profile.api.bodyExcerptBytes,
    allure: true,
  })
  await allureLabels(def, h)
  evidence.write(
    [
      `=== gate: ${def.id} (${def.suite}) — ${def.title}`,
      `run_id: ${h.run.runId}`,
      `target: ${h.profile.name} context=${h.profile.kube.context ?? '(current)'} namespace=${h.profile.kube.namespace}`,
      `owner: ${h.profile.owner}`,
      `started_at_utc: ${startedAt}`,
      `runbook: ${def.description.replace(/\n/g, ' ')}`,
      '',
    ].join('\n'),
  )
  const finish = async (status: GateResult['status'], classification: string | null, reason: string | null) => {
    const finishedAt = isoNow()
    const result: GateResult = {
      id: def.id,
      suite: def.suite,
      status,
      classification,
      reason,
      durationMs: Math.round(performance.now() - t0),
      evidence: evidence.file,
      startedAt,
      finishedAt,
    }
    // a gate that touched nothing (blocked by a need, skipped, stopped before its first step) still
    // has the fields every evidence file carries (E2-3 §7)
    if (!evidence.records.length) evidence.write(`command: (no step ran: ${reason ?? status})\nexit_code: -\nresult: ${status}\n`)
    evidence.write(
      [
        `=== result: ${status.toUpperCase()}`,
        `classification: ${classification ?? 'none'}`,
        `reason: ${reason ?? '-'}`,
        `owner: ${h.profile.owner}`,
        `finished_at_utc: ${finishedAt}`,
        `duration_ms: ${result.durationMs}`,
        '',
      ].join('\n'),
    )
    writeGateResult(h.run.runId, result)
    if (classification) await allure.label('classification', classification)
  }

  // needs: a needed gate that failed or was blocked blocks this one (it does not run)
  for (const need of def.needs ?? []) {
    const r = readGateResult(h.run.runId, def.suite, need)
    if (r && r.status !== 'passed') {
      const reason = `blocked by ${need} (${r.classification ?? r.status.toUpperCase()})`
      await finish('blocked', null, reason)
      skip(reason)
    }
  }
  if (def.disrupts && !h.run.allowDisruption) {
    const reason = 'skipped: disruptive gate, rerun with --allow-disruption to include it'
    await finish('skipped', null, reason)
    skip(reason)
  }

  const ctx = h.contextFor(def, evidence)
  try {
    await body(ctx)
  } catch (err) {
    const c = classifyError(err, def.classification)
    const status = isBlockingClassification(c.classification) ? 'blocked' : 'failed'
    const reason = h.redactor.redact(c.message)
    try {
      await collectDiagnostics(ctx, def)
    } catch (diagErr) {
      evidence.write(`diagnostics: could not be collected: ${h.redactor.redact(String((diagErr as Error)?.message ?? diagErr))}`)
    }
    await finish(status, c.classification, reason)
    const failure = new GateFailure(`[${c.classification}] ${reason}`, c.classification as Classification)
    failure.stack = `GateFailure: [${c.classification}] ${reason}\n    at gate ${def.id} (${def.suite})`
    throw failure
  }
  await finish('passed', null, null)
}
