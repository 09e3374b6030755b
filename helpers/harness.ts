// The gate fixtures (Playwright style, on vitest's test.extend): worker-scoped clients created once
// (the run, the Kubernetes client, the API endpoint) with teardown that closes them, and one
// test-scoped fixture per tool a gate body destructures, each a recorded view bound to the gate's
// evidence. `diagnostics` is an auto fixture that runs after a body that did not pass.
import { test as base } from 'vitest'
import type { GateEvidence } from './evidence.ts'
import { type ApiEndpoint, type ApiTool, createApi } from './fixtures/api.ts'
import { type ArmTool, createArm } from './fixtures/arm.ts'
import { collectDiagnostics } from './fixtures/diagnostics.ts'
import { createExec, type ExecTool } from './fixtures/exec.ts'
import { DIAGNOSTICS_BUDGET_MS, finishGate, type GateRun, startGate } from './fixtures/gate-run.ts'
import { createKubeReads, type KubeReadClient, type KubeReads } from './fixtures/kube-reads.ts'
import { createMonitor, type MonitorTool } from './fixtures/monitor.ts'
import { createMutate, type Mutate } from './fixtures/mutate.ts'
import { makePreflight, type Preflight } from './fixtures/preflight.ts'
import { createRegistry, type RegistryTool } from './fixtures/registry.ts'
import { loadWorkerRun, type RunContext, type WorkerRun } from './fixtures/run.ts'
import { RunValues } from './fixtures/values.ts'
import type { GateDef } from './gate-def.ts'
import { Kube, loadKubeConfig, type PortForwardHandle } from './kube.ts'
import type { TargetProfile } from './profile.ts'

export type { RunContext }
export { RunValues }

declare module 'vitest' {
  interface TaskMeta {
    /** the gate's definition, set by gate() */
    closeoutGate?: GateDef
  }
}

/** The tools a gate body can destructure. */
export interface GateContext {
  target: TargetProfile
  run: RunContext
  evidence: GateEvidence
  kube: KubeReads
  exec: ExecTool
  api: ApiTool
  monitor: MonitorTool
  registry: RegistryTool
  arm: ArmTool
  values: RunValues
  mutate: Mutate
}

/** The Kubernetes client of the worker, made on first use (a gate that never asks the cluster
 * never needs a kubeconfig). */
export interface KubeClient {
  get(): Kube
  /** the same client without any cluster-changing method (every tool but `mutate`) */
  reads(): KubeReadClient
  readonly made: Kube | undefined
}

interface WorkerFixtures {
  workerRun: WorkerRun
  kubeClient: KubeClient
  apiEndpoint: ApiEndpoint
  preflight: Preflight
}

type ToolDeps = Pick<WorkerFixtures, 'workerRun' | 'kubeClient'> & { gateRun: GateRun }

interface TestFixtures extends GateContext {
  gateRun: GateRun
  diagnostics: void
}

function makeKubeClient(p: TargetProfile): KubeClient {
  let kube: Kube | undefined
  let reads: KubeReadClient | undefined
  const get = () => {
    kube ??= new Kube(loadKubeConfig({ kubeconfig: p.kube.kubeconfig, context: p.kube.context }), {
      namespace: p.kube.namespace,
      timeoutMs: p.kube.requestTimeoutMs,
    })
    return kube
  }
  return {
    get,
    reads() {
      reads ??= get().readOnly()
      return reads
    },
    get made() {
      return kube
    },
  }
}

function makeApiEndpoint(p: TargetProfile, kube: KubeClient, opened: PortForwardHandle[]): ApiEndpoint {
  let forwarded: Promise<string> | undefined
  return {
    via: p.api.access === 'direct' ? 'direct' : `port-forward svc/${p.api.service}:${p.api.port} in ${p.kube.namespace}`,
    baseUrl: async () => {
      if (p.api.access === 'direct') return p.api.baseUrl as string
      forwarded ??= kube
        .get()
        .portForward({ service: p.api.service }, p.api.port)
        .then((pf) => (opened.push(pf), pf.localUrl))
        .catch((err: unknown) => {
          forwarded = undefined
          throw err
        })
      return forwarded
    },
  }
}

/** the worker's preflight: one probe and one permission check for the gates of the run */
async function preflightFixture(
  { workerRun, kubeClient }: { workerRun: WorkerRun; kubeClient: KubeClient },
  use: (p: Preflight) => Promise<void>,
): Promise<void> {
  await use(
    makePreflight({
      profile: workerRun.profile,
      gateIds: workerRun.info.selected.map((g) => g.id),
      allowMutations: workerRun.info.allowMutations,
      kube: () => kubeClient.get(),
    }),
  )
}

/** after a body that did not pass: deployment status, logs, events, within what is left of the deadline */
async function diagnosticsFixture({ gateRun, kubeClient, workerRun }: ToolDeps, use: () => Promise<void>): Promise<void> {
  await use()
  if (!gateRun.outcome?.diagnose) return
  const budgetMs = Math.min(DIAGNOSTICS_BUDGET_MS, Math.max(0, gateRun.deadline - Date.now()))
  const p = workerRun.profile.kube
  await collectDiagnostics({
    kube: () => kubeClient.reads(),
    evidence: gateRun.evidence,
    namespace: p.namespace,
    touched: gateRun.touched,
    tailLines: p.diagnosticsTailLines,
    budgetMs,
  }).catch((err: unknown) => gateRun.evidence.write(`diagnostics: could not be collected: ${(err as Error)?.message ?? String(err)}`))
}

function runContextOf(w: WorkerRun, g: GateRun): RunContext {
  const i = w.info
  return {
    runId: i.runId,
    invocation: i.invocations,
    allowMutations: i.allowMutations,
    allowDisruption: i.allowDisruption,
    keepGoing: Boolean(i.keepGoing),
    startedAt: i.startedAt,
    suite: g.def.suite,
    gate: g.def.id,
  }
}

/** Built on first use: test.extend needs a running vitest, and catalog mode has none. */
export function makeGateTest() {
  return base.extend<{ $worker: WorkerFixtures; $test: TestFixtures }>({
    workerRun: [async ({}, use) => use(loadWorkerRun()), { scope: 'worker' }],
    kubeClient: [
      async ({ workerRun }, use) => {
        const client = makeKubeClient(workerRun.profile)
        await use(client)
        client.made?.close()
      },
      { scope: 'worker' },
    ],
    preflight: [preflightFixture, { scope: 'worker' }],
    apiEndpoint: [
      async ({ workerRun, kubeClient }, use) => {
        const opened: PortForwardHandle[] = []
        await use(makeApiEndpoint(workerRun.profile, kubeClient, opened))
        for (const pf of opened) pf.close()
      },
      { scope: 'worker' },
    ],
    gateRun: async ({ task, workerRun }, use) => {
      const def = task.meta.closeoutGate
      if (!def) throw new Error(`test "${task.name}" is not a gate: declare it with gate() from helpers/index.ts`)
      const g = await startGate(def, workerRun)
      await use(g)
      await finishGate(g, workerRun)
    },
    diagnostics: [diagnosticsFixture, { auto: true }],
    target: async ({ workerRun }, use) => use(workerRun.profile),
    run: async ({ workerRun, gateRun }, use) => use(runContextOf(workerRun, gateRun)),
    evidence: async ({ gateRun }, use) => use(gateRun.evidence),
    kube: async ({ gateRun, kubeClient, workerRun }, use) =>
      use(
        createKubeReads({
          kube: () => kubeClient.reads(),
          evidence: gateRun.evidence,
          namespace: workerRun.profile.kube.namespace,
          touched: gateRun.touched,
          forwards: gateRun.forwards,
        }),
      ),
    // function-valued fixtures get no contextual type from vitest's Fixture<>: annotated here
    exec: async ({ gateRun, kubeClient, workerRun }: ToolDeps, use: (v: ExecTool) => Promise<void>) =>
      use(
        createExec({
          kube: () => kubeClient.reads(),
          evidence: gateRun.evidence,
          namespace: workerRun.profile.kube.namespace,
          defaultTimeoutMs: workerRun.profile.kube.execTimeoutMs,
          touched: gateRun.touched,
        }),
      ),
    api: async ({ gateRun, apiEndpoint, workerRun }, use) =>
      use(createApi({ endpoint: apiEndpoint, evidence: gateRun.evidence, timeoutMs: workerRun.profile.api.timeoutMs })),
    monitor: async ({ gateRun, workerRun }: ToolDeps, use: (v: MonitorTool) => Promise<void>) =>
      use(createMonitor({ profile: workerRun.profile, evidence: gateRun.evidence })),
    registry: async ({ gateRun, workerRun }, use) => use(createRegistry({ profile: workerRun.profile, evidence: gateRun.evidence })),
    arm: async ({ gateRun, workerRun }, use) => use(createArm({ profile: workerRun.profile, evidence: gateRun.evidence })),
    values: async ({ workerRun }, use) => use(new RunValues(workerRun.runId)),
    mutate: async ({ gateRun, kubeClient, workerRun }, use) =>
      use(
        createMutate({
          gate: gateRun.def,
          allowMutations: workerRun.info.allowMutations,
          kube: () => kubeClient.get(),
          evidence: gateRun.evidence,
          namespace: workerRun.profile.kube.namespace,
        }),
      ),
  })
}
