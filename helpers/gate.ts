// gate(): one runbook check = one vitest test with its tags, its needs, its stop rule, its
// classification and its evidence file. Chainsaw's shape: the body is `try`, the diagnostics fixture
// is `catch`, the gate fixture's teardown (footer, persisted result) is `finally`.
import { type Classification, GateFailure, isBlockingClassification } from './classification.ts'
import { classifyError } from './fixtures/classify.ts'
import { DEFAULT_GATE_TIMEOUT_MS, DIAGNOSTICS_BUDGET_MS, type GateRun, precondition, stoppedBy } from './fixtures/gate-run.ts'
import type { Preflight } from './fixtures/preflight.ts'
import type { WorkerRun } from './fixtures/run.ts'
import type { GateDef } from './gate-def.ts'
import { type GateContext, makeGateTest } from './harness.ts'

export type { GateDef }
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

let gateTestInstance: ReturnType<typeof makeGateTest> | undefined
function gateTest(): ReturnType<typeof makeGateTest> {
  gateTestInstance ??= makeGateTest()
  return gateTestInstance
}

/** The body, raced against the gate's own deadline (its diagnostics have their budget after it). */
async function withDeadline(p: Promise<void>, ms: number, def: GateDef): Promise<void> {
  let t: NodeJS.Timeout | undefined
  const timer = new Promise<never>((_, rej) => {
    t = setTimeout(
      () =>
        rej(
          new GateFailure(
            `gate ${def.id} did not finish within its deadline of ${Math.round(ms / 1000)} s; see its last step in ${def.evidence}`,
            'ENVIRONMENT_BLOCKED',
          ),
        ),
      ms,
    )
  })
  try {
    await Promise.race([p, timer])
  } finally {
    clearTimeout(t)
  }
}

export function gate(def: GateDef, body: GateBody): void {
  const reg = catalogRegistry()
  if (reg) {
    reg.defs.push(def)
    return
  }
  const tags = [def.suite, def.id, def.classification]
  const timeout = (def.timeoutMs ?? DEFAULT_GATE_TIMEOUT_MS) + DIAGNOSTICS_BUDGET_MS + 10_000
  // every tool is destructured here (vitest sets up the fixtures a test function names); each is a
  // cheap view, and the clients behind them are made on first use
  gateTest()(
    `${def.id}: ${def.title}`,
    { tags, timeout, meta: { closeoutGate: def } },
    async ({ gateRun, workerRun, preflight, skip, target, run, evidence, kube, exec, api, monitor, registry, arm, values, mutate }) => {
      await runGate(gateRun, workerRun, preflight, skip, body, {
        target,
        run,
        evidence,
        kube,
        exec,
        api,
        monitor,
        registry,
        arm,
        values,
        mutate,
      })
    },
  )
}

async function runGate(
  g: GateRun,
  w: WorkerRun,
  preflight: Preflight,
  skip: (note?: string) => never,
  body: GateBody,
  ctx: GateContext,
): Promise<void> {
  const def = g.def
  const pre = precondition(def, w)
  if (pre) {
    g.outcome = pre
    skip(pre.reason ?? pre.status)
  }
  const stop = stoppedBy(def, w)
  if (stop && !w.info.keepGoing) {
    g.outcome = { status: 'blocked', classification: null, reason: stop, diagnose: false }
    skip(stop)
  }
  const advisory = (verdict: string) => `advisory (--keep-going after ${stop}; does not count): ${verdict}`
  const down = await preflight.blockReason(def.id)
  if (down) {
    await g.evidence.note('preflight (API server and permissions, before any call of this gate)', { blocked: down }, 'skipped')
    const reason = w.redactor.redact(down)
    g.outcome = stop
      ? { status: 'advisory', classification: 'ENVIRONMENT_BLOCKED', reason: advisory(`blocked — ${reason}`), diagnose: false }
      : { status: 'blocked', classification: 'ENVIRONMENT_BLOCKED', reason, diagnose: false }
    skip(down)
  }
  try {
    await withDeadline(body(ctx), def.timeoutMs ?? DEFAULT_GATE_TIMEOUT_MS, def)
    g.outcome = stop
      ? { status: 'advisory', classification: null, reason: advisory('passed'), diagnose: false }
      : { status: 'passed', classification: null, reason: null, diagnose: false }
  } catch (err) {
    const c = classifyError(err, def.classification, { localTarget: w.profile.name.startsWith('local') })
    const status = isBlockingClassification(c.classification) ? 'blocked' : 'failed'
    const reason = w.redactor.redact(c.message)
    if (stop) {
      g.outcome = { status: 'advisory', classification: c.classification, reason: advisory(`${status} — ${reason}`), diagnose: true }
      return
    }
    g.outcome = { status, classification: c.classification, reason, diagnose: true }
    const failure = new GateFailure(`[${c.classification}] ${reason}`, c.classification as Classification)
    failure.stack = `GateFailure: [${c.classification}] ${reason}\n    at gate ${def.id} (${def.suite})`
    throw failure
  }
}
