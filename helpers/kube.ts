// kube: the Kubernetes side of the harness, on @kubernetes/client-node 2.x. Results are values,
// every call has a deadline, failures are classified (unreachable / unauthorized / forbidden /
// not-found / config) with messages that name the API server or object and what to do next.
import * as k8s from '@kubernetes/client-node'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createServer, type Server, type Socket } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import { isoNow } from './evidence.ts'

export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'KubeConfigError'
  }
}

export class KubeTimeoutError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'KubeTimeoutError'
  }
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/** KubeConfig from an explicit file, KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount —
 * never client-node's silent http://localhost:8080 fallback. */
export function loadKubeConfig(opts: { kubeconfig?: string; context?: string } = {}): k8s.KubeConfig {
  const kc = new k8s.KubeConfig()
  const tried: string[] = []
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig)) throw new KubeConfigError(`kubeconfig ${opts.kubeconfig} does not exist (set kube.kubeconfig in the target profile, or KUBECONFIG)`)
    try {
      kc.loadFromFile(opts.kubeconfig)
    } catch (e) {
      throw new KubeConfigError(`kubeconfig ${opts.kubeconfig} cannot be read: ${(e as Error).message.split('\n')[0]}`)
    }
  } else {
    const envFiles = (process.env.KUBECONFIG ?? '').split(':').filter(Boolean)
    const home = join(homedir(), '.kube', 'config')
    if (envFiles.some((f) => existsSync(f))) {
      kc.loadFromDefault()
    } else if (existsSync(home)) {
      kc.loadFromFile(home)
    } else if (existsSync(join(SA_DIR, 'token')) && process.env.KUBERNETES_SERVICE_HOST) {
      // in-cluster Job: the ServiceAccount is the identity; a profile's context name does not apply
      kc.loadFromCluster()
      return kc
    } else {
      tried.push(envFiles.length ? `KUBECONFIG=${envFiles.join(':')} (missing)` : 'KUBECONFIG (unset)', `${home} (missing)`, `in-cluster ServiceAccount ${SA_DIR} (absent)`)
      throw new KubeConfigError(`no kubeconfig found; tried ${tried.join(', ')}. Run az aks get-credentials + kubelogin convert-kubeconfig, or set kube.kubeconfig in the target profile`)
    }
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new KubeConfigError(`context "${opts.context}" is not in the kubeconfig; available: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'}`)
    }
    kc.setCurrentContext(opts.context)
  }
  const cluster = kc.getCurrentCluster()
  if (!cluster?.server) throw new KubeConfigError(`the kubeconfig's current context "${kc.getCurrentContext()}" has no cluster server`)
  return kc
}

export interface ExecResult {
  command: string[]
  target: { context: string; namespace: string; pod: string; container: string }
  stdout: string
  stderr: string
  /** null when the command did not report an exit status (deadline, dropped connection) */
  exitCode: number | null
  durationMs: number
  startedAt: string
  finishedAt: string
  error?: string
}

export interface ExecOptions {
  pod?: string
  /** a Ready pod of this deployment, like `kubectl exec deploy/x` */
  deployment?: string
  container: string
  command: string[]
  stdin?: string | Buffer
  timeoutMs?: number
}

export interface RolloutResult {
  done: boolean
  error?: string
  last?: string
}

export interface PortForwardHandle {
  localUrl: string
  pod: string
  close(): void
}

type Status = { status?: string; message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } }

/** Exit code from the v5 status channel (facts §1.5): Success → 0, NonZeroExitCode → its ExitCode cause. */
export function exitCodeFromStatus(s: Status | undefined): number | null {
  if (!s) return null
  if (s.status === 'Success') return 0
  const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode')
  if (cause?.message && /^\d+$/.test(cause.message)) return Number(cause.message)
  return null
}

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new KubeTimeoutError(`${what}: no answer within ${ms} ms`)), ms)
    }),
  ])
}

function selectorString(sel: Record<string, string> | undefined): string {
  return Object.entries(sel ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

function isPodReady(p: k8s.V1Pod): boolean {
  return p.status?.phase === 'Running' && Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) && !p.metadata?.deletionTimestamp
}

/** kubectl's DeploymentStatusViewer (rollout_status.go): [done, message] or throws on deadline exceeded. */
export function deploymentRolloutStatus(d: k8s.V1Deployment): { done: boolean; message: string; failed?: boolean } {
  const name = d.metadata?.name ?? '?'
  const s = d.status ?? {}
  if ((d.metadata?.generation ?? 0) <= (s.observedGeneration ?? -1)) {
    const progressing = s.conditions?.find((c) => c.type === 'Progressing')
    if (progressing?.reason === 'ProgressDeadlineExceeded') return { done: false, failed: true, message: `deployment "${name}" exceeded its progress deadline` }
    const want = d.spec?.replicas ?? 1
    const updated = s.updatedReplicas ?? 0
    if (updated < want) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${want} new replicas have been updated...` }
    if ((s.replicas ?? 0) > updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${(s.replicas ?? 0) - updated} old replicas are pending termination...` }
    if ((s.availableReplicas ?? 0) < updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${s.availableReplicas ?? 0} of ${updated} updated replicas are available...` }
    return { done: true, message: `deployment "${name}" successfully rolled out` }
  }
  return { done: false, message: 'Waiting for deployment spec update to be observed...' }
}

export class Kube {
  readonly kc: k8s.KubeConfig
  readonly namespace: string
  readonly timeoutMs: number
  private readonly core: k8s.CoreV1Api
  private readonly apps: k8s.AppsV1Api
  private readonly net: k8s.NetworkingV1Api
  private readonly forwards: Server[] = []

  constructor(kc: k8s.KubeConfig, opts: { namespace: string; timeoutMs?: number }) {
    this.kc = kc
    this.namespace = opts.namespace
    this.timeoutMs = opts.timeoutMs ?? 15_000
    this.core = kc.makeApiClient(k8s.CoreV1Api)
    this.apps = kc.makeApiClient(k8s.AppsV1Api)
    this.net = kc.makeApiClient(k8s.NetworkingV1Api)
  }

  get contextName(): string {
    return this.kc.getCurrentContext()
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '?'
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return deadline(fn(), this.timeoutMs, `${what} (API server ${this.server})`)
  }

  readNamespace(name = this.namespace): Promise<k8s.V1Namespace> {
    return this.call(`get namespace ${name}`, () => this.core.readNamespace({ name }))
  }
  readDeployment(name: string): Promise<k8s.V1Deployment> {
    return this.call(`get deployment ${name}`, () => this.apps.readNamespacedDeployment({ name, namespace: this.namespace }))
  }
  readService(name: string): Promise<k8s.V1Service> {
    return this.call(`get service ${name}`, () => this.core.readNamespacedService({ name, namespace: this.namespace }))
  }
  readPod(name: string): Promise<k8s.V1Pod> {
    return this.call(`get pod ${name}`, () => this.core.readNamespacedPod({ name, namespace: this.namespace }))
  }
  async listPods(labelSelector?: string): Promise<k8s.V1Pod[]> {
    const l = await this.call(`list pods`, () => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: labelSelector || undefined }))
    return l.items
  }
  async podsOfDeployment(name: string): Promise<k8s.V1Pod[]> {
    const d = await this.readDeployment(name)
    return this.listPods(selectorString(d.spec?.selector?.matchLabels))
  }
  async listEvents(limit = 50): Promise<k8s.CoreV1Event[]> {
    const l = await this.call('list events', () => this.core.listNamespacedEvent({ namespace: this.namespace }))
    const t = (e: k8s.CoreV1Event) => new Date((e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0) as string | number | Date).getTime()
    return l.items.sort((a, b) => t(a) - t(b)).slice(-limit)
  }
  async listNetworkPolicies(): Promise<k8s.V1NetworkPolicy[]> {
    const l = await this.call('list networkpolicies', () => this.net.listNamespacedNetworkPolicy({ namespace: this.namespace }))
    return l.items
  }
  async podLogs(pod: string, container: string, opts: { tailLines?: number } = {}): Promise<string> {
    return this.call(`logs ${pod}/${container}`, () => this.core.readNamespacedPodLog({ name: pod, namespace: this.namespace, container, tailLines: opts.tailLines }))
  }

  /** `kubectl set image deployment/x c=img` (strategic merge patch, containers merged by name). */
  setContainerImage(deployment: string, container: string, image: string): Promise<k8s.V1Deployment> {
    const body = { spec: { template: { spec: { containers: [{ name: container, image }] } } } }
    return this.call(`patch deployment ${deployment}`, () =>
      this.apps.patchNamespacedDeployment({ name: deployment, namespace: this.namespace, body, fieldManager: 'closeout' }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch)),
    )
  }

  createDeployment(doc: k8s.V1Deployment): Promise<k8s.V1Deployment> {
    return this.call(`create deployment ${doc.metadata?.name}`, () => this.apps.createNamespacedDeployment({ namespace: this.namespace, body: doc, fieldManager: 'closeout' }))
  }

  /** A Ready pod of the deployment (the newest), as `kubectl exec deploy/x` picks one. */
  async readyPodOf(deployment: string): Promise<k8s.V1Pod> {
    const pods = await this.podsOfDeployment(deployment)
    const ready = pods.filter(isPodReady).sort((a, b) => new Date(b.metadata?.creationTimestamp ?? 0).getTime() - new Date(a.metadata?.creationTimestamp ?? 0).getTime())
    if (!ready.length) throw new Error(`deployment ${deployment} in ${this.namespace} has no Ready pod (${pods.length} pod(s): ${pods.map((p) => `${p.metadata?.name} ${p.status?.phase}`).join(', ') || 'none'})`)
    return ready[0]
  }

  /** Run a command in a pod over WebSocket (v5). Never throws for a non-zero exit; the exit code
   * comes from the status channel; a missing status or the deadline gives exitCode null + error. */
  async execInPod(o: ExecOptions): Promise<ExecResult> {
    const startedAt = isoNow()
    const t0 = performance.now()
    const timeoutMs = o.timeoutMs ?? 60_000
    const pod = o.pod ?? (await this.readyPodOf(o.deployment as string)).metadata?.name ?? '?'
    const target = { context: this.contextName, namespace: this.namespace, pod, container: o.container }
    const out = new PassThrough()
    const err = new PassThrough()
    let stdout = ''
    let stderr = ''
    out.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
    err.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
    let status: Status | undefined
    const stdin = o.stdin === undefined ? null : Readable.from([Buffer.isBuffer(o.stdin) ? o.stdin : Buffer.from(o.stdin, 'utf8')])
    const finish = (error?: string): ExecResult => ({
      command: o.command,
      target,
      stdout,
      stderr,
      exitCode: exitCodeFromStatus(status),
      durationMs: Math.round(performance.now() - t0),
      startedAt,
      finishedAt: isoNow(),
      ...(error ? { error } : {}),
    })
    let ws: { close: () => void; terminate?: () => void; on: (ev: string, fn: (...a: unknown[]) => void) => void }
    try {
      ws = (await deadline(
        new k8s.Exec(this.kc).exec(this.namespace, pod, o.container, o.command, out, err, stdin, false, (s: k8s.V1Status) => {
          status = s as Status
        }),
        Math.min(timeoutMs, this.timeoutMs),
        `exec in ${pod}/${o.container}`,
      )) as unknown as typeof ws
    } catch (e) {
      throw e
    }
    const outcome = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => {
        try {
          ws.terminate ? ws.terminate() : ws.close()
        } catch {
          /* already closed */
        }
        resolve(`deadline of ${timeoutMs} ms exceeded; the command was cut`)
      }, timeoutMs)
      ws.on('close', () => {
        clearTimeout(timer)
        resolve(undefined)
      })
      ws.on('error', (e: unknown) => {
        clearTimeout(timer)
        resolve(`exec connection error: ${(e as Error)?.message ?? String(e)}`)
      })
    })
    await new Promise((r) => setImmediate(r))
    if (outcome) return finish(outcome)
    if (!status) return finish('the exec connection closed without a status frame; the exit code is unknown')
    if (exitCodeFromStatus(status) === null) return finish(`exec failed: ${status.message ?? status.reason ?? 'unknown'}`)
    return finish()
  }

  /** `kubectl rollout status` on a watch: the initial state is the watch's ADDED event (like kubectl's
   * informer), then kubectl's status logic on every change; ProgressDeadlineExceeded and the deadline
   * end it. A watch the server refuses (401/403/404) rejects, so access problems classify as such. */
  async waitForRollout(deployment: string, opts: { timeoutMs: number; onStatus?: (s: string) => void }): Promise<RolloutResult> {
    const path = `/apis/apps/v1/namespaces/${this.namespace}/deployments`
    let st: { done: boolean; message: string; failed?: boolean } = { done: false, message: `Waiting for deployment "${deployment}" to be seen...` }
    let seen = false
    return new Promise<RolloutResult>((resolve, reject) => {
      let ctl: AbortController | undefined
      let settled = false
      const finish = (fn: () => void) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        ctl?.abort()
        fn()
      }
      const settle = (r: RolloutResult) => finish(() => resolve(r))
      const timer = setTimeout(() => settle({ done: false, error: `timed out waiting for the condition (${Math.round(opts.timeoutMs / 1000)}s): ${st.message}`, last: st.message }), opts.timeoutMs)
      const start = (): Promise<void> =>
        new k8s.Watch(this.kc)
          .watch(
            path,
            { fieldSelector: `metadata.name=${deployment}` },
            (type: string, obj: k8s.V1Deployment) => {
              if (type === 'DELETED') return settle({ done: false, error: `deployment "${deployment}" has been deleted` })
              if (type !== 'ADDED' && type !== 'MODIFIED') return
              seen = true
              st = deploymentRolloutStatus(obj)
              opts.onStatus?.(st.message)
              if (st.done) settle({ done: true, last: st.message })
              else if (st.failed) settle({ done: false, error: st.message, last: st.message })
            },
            (err: unknown) => {
              if (settled) return
              const status = (err as { statusCode?: number; code?: number })?.statusCode ?? (err as { code?: number })?.code
              if (status === 401 || status === 403) return finish(() => reject(new k8s.ApiException(status, `watch deployments: ${status}`, JSON.stringify({ message: `deployments.apps is forbidden: cannot watch resource "deployments" (${status})` }) as never, {})))
              // the server ended the watch (timeoutSeconds) or it broke: watch again until the deadline
              setTimeout(() => void start().catch(onStartError), err ? 500 : 0)
            },
          )
          .then((c) => {
            ctl = c
            if (settled) c.abort()
          })
      const onStartError = (e: unknown) => finish(() => reject(e))
      start().catch(onStartError)
      void seen
    })
  }

  /** Port-forward from 127.0.0.1:<random> to a Ready pod of a service / deployment, or a pod. */
  async portForward(target: { service?: string; deployment?: string; pod?: string }, port: number): Promise<PortForwardHandle> {
    let pod = target.pod
    let podPort = port
    if (target.service) {
      const svc = await this.readService(target.service)
      const sp = svc.spec?.ports?.find((p) => p.port === port) ?? svc.spec?.ports?.[0]
      if (sp?.targetPort !== undefined && typeof sp.targetPort === 'number') podPort = sp.targetPort
      else if (typeof sp?.targetPort === 'string' && /^\d+$/.test(sp.targetPort)) podPort = Number(sp.targetPort)
      const pods = (await this.listPods(selectorString(svc.spec?.selector))).filter(isPodReady)
      if (!pods.length) throw new Error(`service ${target.service} in ${this.namespace} has no Ready pod behind it`)
      pod = pods[0].metadata?.name
    } else if (target.deployment) {
      pod = (await this.readyPodOf(target.deployment)).metadata?.name
    }
    if (!pod) throw new Error('port-forward needs a service, deployment or pod')
    const pf = new k8s.PortForward(this.kc, true)
    // preflight one tunnel so a refused port-forward (401/403/404) is an access error here, not a
    // connection reset later in the middle of an HTTP check
    const probeIn = new PassThrough()
    const ws = (await deadline(pf.portForward(this.namespace, pod, [podPort], new PassThrough(), null, probeIn), this.timeoutMs, `port-forward to ${pod}:${podPort}`)) as unknown as { close?: () => void }
    ws.close?.()
    const sockets = new Set<Socket>()
    const server = createServer((sock) => {
      sockets.add(sock)
      sock.on('close', () => sockets.delete(sock))
      sock.on('error', () => sock.destroy())
      pf.portForward(this.namespace, pod as string, [podPort], sock, null, sock).then(
        (ws) => {
          const w = ws as unknown as { on?: (e: string, f: () => void) => void }
          w.on?.('close', () => sock.end())
        },
        () => sock.destroy(),
      )
    })
    await new Promise<void>((res, rej) => {
      server.once('error', rej)
      server.listen(0, '127.0.0.1', () => res())
    })
    server.unref()
    this.forwards.push(server)
    const addr = server.address() as { port: number }
    return {
      localUrl: `http://127.0.0.1:${addr.port}`,
      pod,
      close: () => {
        for (const s of sockets) s.destroy()
        server.close()
      },
    }
  }

  /** Write a file into a container: exec `sh -c 'cat > "$1"'` with the content on stdin (no quoting). */
  copyToPod(pod: { pod?: string; deployment?: string }, container: string, destPath: string, content: string | Buffer, timeoutMs = 60_000): Promise<ExecResult> {
    return this.execInPod({ ...pod, container, command: ['sh', '-c', 'cat > "$1"', 'sh', destPath], stdin: content, timeoutMs })
  }

  close(): void {
    for (const s of this.forwards) s.close()
  }
}

export type KubeErrorKind = 'unreachable' | 'unauthorized' | 'forbidden' | 'not-found' | 'config' | 'timeout' | 'other'

export interface KubeErrorClass {
  kind: KubeErrorKind
  message: string
  /** for not-found: the namespace itself is missing */
  isNamespace?: boolean
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined
  try {
    return (JSON.parse(body) as { message?: string }).message
  } catch {
    return undefined
  }
}

/** Map any client-node / network error to a kind and an operator-facing message (no tokens). */
export function classifyKubeError(err: unknown): KubeErrorClass {
  if (err instanceof KubeConfigError) return { kind: 'config', message: err.message }
  if (err instanceof KubeTimeoutError) return { kind: 'unreachable', message: `${err.message}; check the API server is reachable from this runner (VPN / jumpbox / private DNS)` }
  const e = err as { code?: unknown; body?: unknown; message?: string; cause?: { code?: string; message?: string } }
  if (err instanceof k8s.ApiException || (typeof e?.code === 'number' && 'body' in (e as object))) {
    const code = e.code as number
    const msg = statusMessage(e.body)
    if (code === 401) return { kind: 'unauthorized', message: `the API server rejected the credentials (401 Unauthorized): refresh them (az aks get-credentials + kubelogin convert-kubeconfig) and rerun` }
    if (code === 403) return { kind: 'forbidden', message: `forbidden (403): ${msg ?? 'the runner identity lacks a permission'}; grant it (deploy/k8s/role.yaml) and rerun` }
    if (code === 404) {
      const isNamespace = /namespaces? "[^"]+" not found/.test(msg ?? '')
      return { kind: 'not-found', isNamespace, message: `not found (404): ${msg ?? 'the object does not exist'}` }
    }
    return { kind: 'other', message: `API error ${code}: ${msg ?? e.message ?? ''}` }
  }
  const text = `${e?.message ?? ''} ${e?.cause?.code ?? ''} ${e?.cause?.message ?? ''}`
  const m = /Unexpected server response: (\d{3})/.exec(text)
  const statusCode = (err as { statusCode?: unknown })?.statusCode
  if (m || typeof statusCode === 'number') {
    const code = m ? Number(m[1]) : (statusCode as number)
    const what = m ? 'exec/port-forward' : 'watch'
    if (code === 401) return { kind: 'unauthorized', message: `the API server rejected the credentials (401 Unauthorized) on ${what}: refresh them and rerun` }
    if (code === 403) return { kind: 'forbidden', message: m ? 'forbidden (403) on exec/port-forward: the runner identity lacks create on pods/exec or pods/portforward (deploy/k8s/role.yaml)' : 'forbidden (403) on watch: the runner identity lacks watch on deployments (deploy/k8s/role.yaml)' }
    if (code === 404) return { kind: 'not-found', message: `the object for ${what} was not found (404)` }
  }
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN|fetch failed|socket hang up|UND_ERR_CONNECT|certificate|self[- ]signed|SSL|TLS/i.test(text)) {
    return { kind: 'unreachable', message: `the API server is unreachable: ${text.trim().replace(/\s+/g, ' ').slice(0, 200)}` }
  }
  return { kind: 'other', message: e?.message ?? String(err) }
}
