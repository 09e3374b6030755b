// The per-worker harness behind gate(): target profile, run context, redaction, and the tools a
// gate body receives (kube, exec, api, db, monitor, evidence). Clients are created lazily, once per
// worker; each gate gets views of them bound to its own evidence file.
import { basename, join } from 'node:path'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import type { GateDef } from './gate.ts'
import { GateEvidence, isoNow, commandLine, type EvidenceRecord } from './evidence.ts'
import { loadProfile, profileSecrets, resolveTargetPath, type TargetProfile } from './profile.ts'
import { Redactor, secretLookingEnvValues } from './redact.ts'
import { GateFailure, GateBlocked, ServiceAccessError, type Classification } from './classification.ts'
import { runDir, newRunId, type RunInfo, readRunInfo } from './run-state.ts'
import type { SuiteName } from './suites.ts'
import { ApiClient, HttpAccessError } from './http.ts'
import { Kube, loadKubeConfig, classifyKubeError, type ExecResult } from './kube.ts'
import { queryAzureMonitor, queryPrometheus, type MonitorResult } from './monitor.ts'

export interface RunContext {
  runId: string
  /** 1 for a new run, n for the n-th invocation appending to it with --run-id */
  invocation: number
  allowMutations: boolean
  allowDisruption: boolean
  startedAt: string
}

export interface ExecStep {
  /** a Ready pod of this deployment, like `kubectl exec deploy/x` */
  deployment?: string
  pod?: string
  container: string
  command: string[]
  stdin?: string | Buffer
  timeoutMs?: number
  /** expected marker line in stdout (success requires exit 0 AND the marker) */
  marker?: string
}

export interface GateContext {
  target: TargetProfile
  run: RunContext & { suite: SuiteName; gate: string }
  evidence: GateEvidence
  /** the Kubernetes client (reads); exec/api/monitor calls below record evidence themselves */
  kube: () => Kube
  /** run a command in a pod (WebSocket exec), recorded as an evidence step; never throws on exit != 0 */
  exec: (step: string, opts: ExecStep) => Promise<ExecResult>
  /** a Kubernetes read recorded as evidence (kubectl-equivalent command line + JSON excerpt) */
  k8s: <T>(step: string, command: string, fn: (kube: Kube) => Promise<T>, summarize?: (v: T) => unknown) => Promise<T>
  api: ApiClient
  /** Azure Monitor KQL or PromQL per the profile; recorded with query, time range and raw rows */
  monitor: (step: string, which: 'lag' | 'freshness') => Promise<MonitorResult>
  /** values shared by the gates of one run (e.g. the synced tx id, T_cutover), persisted in the run dir */
  values: RunValues
  /** pods/deployments this gate touched: their logs are attached when it does not pass */
  touched: Set<string>
}

export class RunValues {
  private readonly file: string
  constructor(runId: string) {
    this.file = join(runDir(runId), 'values.json')
  }
  private read(): Record<string, unknown> {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, unknown>) : {}
  }
  get<T>(key: string): T | undefined {
    return this.read()[key] as T | undefined
  }
  set(key: string, value: unknown): void {
    mkdirSync(join(this.file, '..'), { recursive: true })
    writeFileSync(this.file, JSON.stringify({ ...this.read(), [key]: value }, null, 2))
  }
  /** the stored value, or compute, store and return it */
  getOrSet<T>(key: string, compute: () => T): T {
    const v = this.get<T>(key)
    if (v !== undefined) return v
    const c = compute()
    this.set(key, c)
    return c
  }
}

export interface WorkerHarness {
  profile: TargetProfile
  run: RunContext
  redactor: Redactor
  contextFor(def: GateDef, evidence: GateEvidence): GateContext
}

let worker: WorkerHarness | undefined
let workerKube: Kube | undefined

function isLocalTarget(p: TargetProfile): boolean {
  return p.name.startsWith('local')
}

export function getWorkerHarness(): WorkerHarness {
  if (worker) return worker
  const profile = loadProfile(resolveTargetPath(process.env.CLOSEOUT_TARGET))
  const runId = process.env.CLOSEOUT_RUN_ID ?? newRunId()
  const info: RunInfo | undefined = readRunInfo(runId)
  const run: RunContext = {
    runId,
    invocation: info?.invocations ?? 1,
    allowMutations: Boolean(process.env.CLOSEOUT_ALLOW_MUTATIONS),
    allowDisruption: Boolean(process.env.CLOSEOUT_ALLOW_DISRUPTION),
    startedAt: info?.startedAt ?? isoNow(),
  }
  const redactor = new Redactor([...profileSecrets(profile), ...secretLookingEnvValues()])
  let kube: Kube | undefined
  const getKube = (): Kube => {
    if (!kube) {
      const kc = loadKubeConfig({ kubeconfig: profile.kube.kubeconfig, context: profile.kube.context })
      kube = new Kube(kc, { namespace: profile.kube.namespace, timeoutMs: profile.kube.requestTimeoutMs })
      workerKube = kube
    }
    return kube
  }
  let forwarded: Promise<string> | undefined
  const apiBaseUrl = async (): Promise<string> => {
    if (profile.api.access === 'direct') return profile.api.baseUrl as string
    forwarded ??= getKube()
      .portForward({ service: profile.api.service }, profile.api.port)
      .then((pf) => pf.localUrl)
      .catch((err: unknown) => {
        forwarded = undefined
        throw err
      })
    return forwarded
  }

  worker = {
    profile,
    run,
    redactor,
    contextFor(def: GateDef, evidence: GateEvidence): GateContext {
      const touched = new Set<string>()
      const ctx: GateContext = {
        target: profile,
        run: { ...run, suite: def.suite, gate: def.id },
        evidence,
        kube: getKube,
        touched,
        values: new RunValues(runId),
        api: new ApiClient(
          {
            baseUrl: apiBaseUrl,
            via: profile.api.access === 'direct' ? 'direct' : `port-forward svc/${profile.api.service}:${profile.api.port} in ${profile.kube.namespace}`,
            timeoutMs: profile.api.timeoutMs,
          },
          evidence,
        ),
        async exec(step, opts) {
          const k = getKube()
          if (opts.deployment) touched.add(`deploy/${opts.deployment}`)
          if (opts.pod) touched.add(`pod/${opts.pod}`)
          const startedAt = isoNow()
          let r: ExecResult
          try {
            r = await k.execInPod({
              deployment: opts.deployment,
              pod: opts.pod,
              container: opts.container,
              command: opts.command,
              stdin: opts.stdin,
              timeoutMs: opts.timeoutMs ?? profile.kube.execTimeoutMs,
            })
          } catch (err) {
            await evidence.record({
              step,
              kind: 'exec',
              command: `kubectl -n ${profile.kube.namespace} exec ${opts.pod ?? `deploy/${opts.deployment}`} -c ${opts.container} -- ${commandLine(opts.command)}`,
              target: `context=${k.contextName} namespace=${profile.kube.namespace} ${opts.pod ?? `deploy/${opts.deployment}`} container=${opts.container}`,
              startedAt,
              finishedAt: isoNow(),
              durationMs: Date.now() - Date.parse(startedAt),
              exitCode: null,
              result: 'fail',
              stderr: (err as Error)?.message ?? String(err),
            })
            throw err
          }
          if (r.target?.pod) touched.add(`pod/${r.target.pod}`)
          const markerOk = opts.marker === undefined || r.stdout.split('\n').some((l) => l.trim() === opts.marker)
          await evidence.record({
            step,
            kind: 'exec',
            command: `kubectl -n ${profile.kube.namespace} exec ${opts.pod ?? `deploy/${opts.deployment}`} -c ${opts.container} -- ${commandLine(opts.command)}`,
            target: `context=${k.contextName} namespace=${profile.kube.namespace} pod=${r.target?.pod ?? opts.pod ?? '?'} container=${opts.container}`,
            startedAt: r.startedAt ?? startedAt,
            finishedAt: r.finishedAt ?? isoNow(),
            durationMs: r.durationMs,
            exitCode: r.exitCode,
            result: r.exitCode === 0 && markerOk ? 'pass' : 'fail',
            stdout: r.stdout,
            stderr: r.error ? `${r.stderr}\n${r.error}` : r.stderr,
            details: opts.marker ? { expected_marker: opts.marker, marker_found: markerOk ? 'yes' : 'no' } : undefined,
          })
          return r
        },
        async k8s(step, command, fn, summarize) {
          const k = getKube()
          const startedAt = isoNow()
          const t0 = performance.now()
          try {
            const v = await fn(k)
            await evidence.record({
              step,
              kind: 'k8s',
              command,
              target: `context=${k.contextName} namespace=${profile.kube.namespace}`,
              startedAt,
              finishedAt: isoNow(),
              durationMs: Math.round(performance.now() - t0),
              exitCode: 0,
              result: 'info',
              stdout: summarize ? JSON.stringify(summarize(v), null, 2) : undefined,
            })
            return v
          } catch (err) {
            const c = classifyKubeError(err)
            await evidence.record({
              step,
              kind: 'k8s',
              command,
              target: `namespace=${profile.kube.namespace}`,
              startedAt,
              finishedAt: isoNow(),
              durationMs: Math.round(performance.now() - t0),
              exitCode: 1,
              result: 'fail',
              stderr: c.message,
            })
            throw err
          }
        },
        async monitor(step, which) {
          const m = profile.monitoring
          const end = new Date()
          const start = new Date(end.getTime() - m.windowMinutes * 60_000)
          const startedAt = isoNow()
          const t0 = performance.now()
          let result: MonitorResult
          const query = m.source === 'azure-monitor' ? (which === 'lag' ? m.azureMonitor!.lagQuery : m.azureMonitor!.freshnessQuery) : which === 'lag' ? m.prometheus!.lagQuery : m.prometheus!.freshnessQuery
          const where = m.source === 'azure-monitor' ? `Log Analytics workspace ${m.azureMonitor!.workspaceId}${m.azureMonitor!.endpoint ? ` at ${m.azureMonitor!.endpoint}` : ''}` : `Prometheus ${m.prometheus!.url}`
          try {
            result =
              m.source === 'azure-monitor'
                ? await queryAzureMonitor({
                    workspaceId: m.azureMonitor!.workspaceId,
                    endpoint: m.azureMonitor!.endpoint,
                    query,
                    timespan: { startTime: start, endTime: end },
                    credential: m.azureMonitor!.credential,
                    timeoutMs: m.timeoutMs,
                  })
                : await queryPrometheus({
                    url: m.prometheus!.url,
                    query,
                    start,
                    end,
                    stepSeconds: m.prometheus!.stepSeconds,
                    bearerToken: m.prometheus!.bearerToken,
                    timeoutMs: m.timeoutMs,
                  })
          } catch (err) {
            await evidence.record({
              step,
              kind: 'query',
              command: query,
              target: `${where}, time range ${start.toISOString()} … ${end.toISOString()}`,
              startedAt,
              finishedAt: isoNow(),
              durationMs: Math.round(performance.now() - t0),
              exitCode: 1,
              result: 'fail',
              stderr: (err as Error)?.message ?? String(err),
            })
            throw err
          }
          // every raw row next to the bundle file (the block below keeps the first 50)
          const rowsFile = evidence.file.replace(/(\.log)?$/, '.rows.json')
          writeFileSync(rowsFile, redactor.redact(JSON.stringify({ query, source: where, timeRange: { start: start.toISOString(), end: end.toISOString() }, rows: result.rows }, null, 2)) + '\n')
          await evidence.record({
            step,
            kind: 'query',
            exitCode: result.rows.length ? 0 : 1,
            command: query,
            target: `${where}, time range ${start.toISOString()} … ${end.toISOString()}`,
            startedAt,
            finishedAt: isoNow(),
            durationMs: Math.round(performance.now() - t0),
            httpStatus: typeof result.status === 'number' ? result.status : undefined,
            result: result.rows.length ? 'pass' : 'fail',
            details: { row_count: String(result.rows.length), rows_file: basename(rowsFile), rows: result.rows.slice(0, 50) },
          })
          return result
        },
      }
      return ctx
    },
  }
  return worker
}

export interface Classified {
  classification: string
  message: string
}

/** One classification path: access problems are "could not check", everything else is the gate's own. */
export function classifyError(err: unknown, gateClassification: Classification): Classified {
  const profileName = worker?.profile.name ?? ''
  const localHint = profileName.startsWith('local') ? ' — is the local environment up? start it with `./closeout env up`' : ''
  if (err instanceof GateBlocked) return { classification: err.classification as string, message: err.message }
  if (err instanceof GateFailure) return { classification: err.classification ?? gateClassification, message: err.message }
  const monitorKind = (err as { kind?: string; monitor?: boolean })?.monitor ? (err as { kind: string }).kind : undefined
  if (monitorKind) return { classification: 'MONITORING_ACCESS_BLOCKED', message: (err as Error).message }
  // the image registry or Azure Resource Manager could not be asked (unreachable, 401, 403, 404): could not check
  if (err instanceof ServiceAccessError) return { classification: 'ENVIRONMENT_BLOCKED', message: err.message }
  const kubeClass = classifyKubeError(err)
  if (kubeClass.kind !== 'other') {
    const where = kubeClass.kind === 'unreachable' && workerKube && !kubeClass.message.includes(workerKube.server) ? ` (API server ${workerKube.server}, context ${workerKube.contextName})` : ''
    const message = kubeClass.message + where + (kubeClass.kind === 'unreachable' || kubeClass.kind === 'config' ? localHint : '')
    if (kubeClass.kind === 'not-found' && !kubeClass.isNamespace) return { classification: gateClassification, message }
    return { classification: 'ENVIRONMENT_BLOCKED', message }
  }
  if (err instanceof HttpAccessError) return { classification: gateClassification, message: err.message }
  const e = err as Error
  const msg = e?.message ?? String(err)
  return { classification: gateClassification, message: msg.split('\n').slice(0, 12).join('\n') }
}

/** Chainsaw's catch: logs of touched pods, recent events, deployment status — bounded, redacted. */
export async function collectDiagnostics(ctx: GateContext, def: GateDef): Promise<void> {
  let k: Kube
  try {
    k = ctx.kube()
  } catch {
    return
  }
  const tail = ctx.target.kube.diagnosticsTailLines
  const deployments = new Set<string>([...ctx.touched].filter((t) => t.startsWith('deploy/')).map((t) => t.slice(7)))
  const pods = new Set<string>([...ctx.touched].filter((t) => t.startsWith('pod/')).map((t) => t.slice(4)))
  const records: Omit<EvidenceRecord, 'startedAt' | 'finishedAt' | 'durationMs'>[] = []
  const now = isoNow()
  for (const d of deployments) {
    try {
      const dep = await k.readDeployment(d)
      records.push({
        step: `diagnostics: deployment ${d} status`,
        kind: 'k8s',
        command: `kubectl -n ${ctx.target.kube.namespace} get deploy ${d} -o jsonpath='{.status}'`,
        target: `namespace=${ctx.target.kube.namespace}`,
        result: 'info',
        stdout: JSON.stringify({ generation: dep.metadata?.generation, status: dep.status }, null, 2),
      })
      const sel = dep.spec?.selector?.matchLabels
      if (sel) {
        const ps = await k.listPods(Object.entries(sel).map(([a, b]) => `${a}=${b}`).join(','))
        for (const p of ps.slice(0, 3)) if (p.metadata?.name) pods.add(p.metadata.name)
      }
    } catch {
      /* a missing deployment is already in the evidence */
    }
  }
  let allPods: Awaited<ReturnType<Kube['listPods']>> = []
  try {
    allPods = await k.listPods()
  } catch {
    /* pods not listable: nothing more to attach */
  }
  for (const p of [...pods].slice(0, 4)) {
    try {
      const pod = allPods.find((x) => x.metadata?.name === p)
      for (const c of pod?.spec?.containers ?? []) {
        const logs = await k.podLogs(p, c.name, { tailLines: tail })
        records.push({
          step: `diagnostics: logs ${p}/${c.name} (last ${tail} lines)`,
          kind: 'k8s',
          command: `kubectl -n ${ctx.target.kube.namespace} logs ${p} -c ${c.name} --tail=${tail}`,
          target: `namespace=${ctx.target.kube.namespace} pod=${p} container=${c.name}`,
          result: 'info',
          stdout: logs,
        })
      }
    } catch {
      /* pod gone */
    }
  }
  try {
    const events = await k.listEvents(30)
    records.push({
      step: 'diagnostics: recent namespace events',
      kind: 'k8s',
      command: `kubectl -n ${ctx.target.kube.namespace} get events --sort-by=.lastTimestamp`,
      target: `namespace=${ctx.target.kube.namespace}`,
      result: 'info',
      stdout: events.map((e) => `${e.lastTimestamp ?? e.eventTime ?? ''} ${e.type ?? ''} ${e.reason ?? ''} ${e.involvedObject?.kind ?? ''}/${e.involvedObject?.name ?? ''}: ${e.message ?? ''}`).join('\n'),
    })
  } catch {
    /* events not readable */
  }
  for (const r of records) await ctx.evidence.record({ ...r, startedAt: now, finishedAt: isoNow(), durationMs: 0 })
  void def
}
