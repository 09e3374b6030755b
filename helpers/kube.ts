// kube: the Kubernetes side of the harness, on @kubernetes/client-node 2.x. Results are values,
// every call has a deadline, access failures are classified (unreachable / unauthorized / forbidden /
// not-found, plus config) with messages that name the API server or object and what to do next.
// Wire details it relies on: ../shared/facts/k8s-wire-protocol.md (§1 exec v5, §3 port-forward, §5 watch).
import * as k8s from '@kubernetes/client-node'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
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

export type KubeAccessKind = 'unreachable' | 'unauthorized' | 'forbidden' | 'not-found'
export type KubeErrorKind = KubeAccessKind | 'config' | 'timeout' | 'other'

/** A call the cluster refused or could not answer: "could not check", not a finding about the target.
 * `code` is the HTTP status when there was one (callers test `code === 404`, as on client-node's ApiException). */
export class KubeAccessError extends Error {
  readonly kind: KubeAccessKind
  readonly code?: number
  readonly server: string
  readonly verb?: string
  readonly resource?: string
  readonly isNamespace?: boolean
  constructor(c: KubeErrorClass & { kind: KubeAccessKind }, server: string, cause: unknown) {
    super(c.message, { cause })
    this.name = 'KubeAccessError'
    this.kind = c.kind
    this.code = c.code
    this.server = server
    this.verb = c.verb
    this.resource = c.resource
    this.isNamespace = c.isNamespace
  }
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/** KubeConfig from an explicit file, KUBECONFIG (its existing files, merged like kubectl), ~/.kube/config
 * or the in-cluster ServiceAccount — never client-node's silent http://localhost:8080 fallback.
 * Exec credential plugins (kubelogin) stay in the config; client-node runs them per request. */
export function loadKubeConfig(opts: { kubeconfig?: string; context?: string } = {}): k8s.KubeConfig {
  const kc = new k8s.KubeConfig()
  const readFile = (target: k8s.KubeConfig, f: string) => {
    try {
      target.loadFromFile(f)
    } catch (e) {
      throw new KubeConfigError(`kubeconfig ${f} cannot be read: ${(e as Error).message.split('\n')[0]}`)
    }
  }
  let source: string
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig)) throw new KubeConfigError(`kubeconfig ${opts.kubeconfig} does not exist (set kube.kubeconfig in the target profile, or KUBECONFIG)`)
    readFile(kc, opts.kubeconfig)
    source = opts.kubeconfig
  } else {
    const envFiles = (process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean)
    const home = join(homedir(), '.kube', 'config')
    const inCluster = existsSync(join(SA_DIR, 'token')) && Boolean(process.env.KUBERNETES_SERVICE_HOST)
    if (envFiles.length) {
      // kubectl: KUBECONFIG set means only those files (missing ones skipped), never ~/.kube/config
      const present = envFiles.filter((f) => existsSync(f))
      if (!present.length) {
        throw new KubeConfigError(
          `no kubeconfig found; tried KUBECONFIG=${envFiles.join(delimiter)} (missing)${inCluster ? '' : `, in-cluster ServiceAccount ${SA_DIR} (absent)`}. Fix KUBECONFIG, or unset it to use ${home}; run az aks get-credentials + kubelogin convert-kubeconfig, or set kube.kubeconfig in the target profile`,
        )
      }
      readFile(kc, present[0])
      for (const f of present.slice(1)) {
        const more = new k8s.KubeConfig()
        readFile(more, f)
        kc.mergeConfig(more, true)
      }
      source = `KUBECONFIG=${present.join(delimiter)}`
    } else if (existsSync(home)) {
      readFile(kc, home)
      source = home
    } else if (inCluster) {
      // in-cluster Job: the ServiceAccount is the identity; a profile's context name does not apply
      kc.loadFromCluster()
      return kc
    } else {
      throw new KubeConfigError(
        `no kubeconfig found; tried KUBECONFIG (unset), ${home} (missing), in-cluster ServiceAccount ${SA_DIR} (absent). Run az aks get-credentials + kubelogin convert-kubeconfig, or set kube.kubeconfig in the target profile`,
      )
    }
  }
  const available = kc.getContexts().map((c) => c.name)
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) throw new KubeConfigError(`context "${opts.context}" is not in the kubeconfig; available: ${available.join(', ') || 'none'} (read from ${source}); set kube.context in the target profile to one of them`)
    kc.setCurrentContext(opts.context)
  } else if (!kc.getCurrentContext() || !kc.getContextObject(kc.getCurrentContext())) {
    throw new KubeConfigError(`the kubeconfig (${source}) has no usable current-context; set kube.context in the target profile or run kubectl config use-context (available: ${available.join(', ') || 'none'})`)
  }
  const cluster = kc.getCurrentCluster()
  if (!cluster?.server) throw new KubeConfigError(`context "${kc.getCurrentContext()}" in ${source} names no cluster with a server address`)
  return kc
}

export interface ExecResult {
  command: string[]
  target: { context: string; namespace: string; pod: string; container: string }
  stdout: string
  stderr: string
  /** null when the command did not report an exit status (deadline, dropped connection, exec failure) */
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

/** what to forward to: `{ service }` (a Ready pod behind it, targetPort resolved), `{ deployment }`,
 * `{ pod }`, or the kubectl spelling `svc/x`, `deploy/x`, `pod/x` (a bare name is a pod) */
export type ForwardTarget = { service?: string; deployment?: string; pod?: string } | string

type Status = { status?: string; message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } }

/** Exit code from the v5 status channel (facts §1.5): Success → 0, NonZeroExitCode → its ExitCode cause. */
export function exitCodeFromStatus(s: Status | undefined): number | null {
  if (!s) return null
  if (s.status === 'Success') return 0
  const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode')
  if (cause?.message && /^\d+$/.test(cause.message)) return Number(cause.message)
  return null
}

/** Race a promise against a deadline; `onLate` receives the value if it arrives after the deadline (to close it). */
function deadline<T>(p: Promise<T>, ms: number, what: string, onLate?: (v: T) => void): Promise<T> {
  let t: NodeJS.Timeout
  let late = false
  return Promise.race([
    p.then(
      (v) => {
        if (late) onLate?.(v)
        return v
      },
      (e: unknown) => {
        throw e
      },
    ).finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => {
      t = setTimeout(() => {
        late = true
        rej(new KubeTimeoutError(`${what}: no answer within ${ms} ms`))
      }, ms)
    }),
  ])
}

function selectorString(sel: Record<string, string> | undefined): string {
  return Object.entries(sel ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

export function isPodReady(p: k8s.V1Pod): boolean {
  return p.status?.phase === 'Running' && Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) && !p.metadata?.deletionTimestamp
}

/** kubectl's DeploymentStatusViewer (rollout_status.go): done, waiting message, or failed (deadline exceeded). */
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

function parseTarget(t: ForwardTarget): { service?: string; deployment?: string; pod?: string } {
  if (typeof t !== 'string') return t
  const [kind, name] = t.includes('/') ? (t.split('/', 2) as [string, string]) : ['pod', t]
  if (['svc', 'service', 'services'].includes(kind)) return { service: name }
  if (['deploy', 'deployment', 'deployments'].includes(kind)) return { deployment: name }
  if (['pod', 'po', 'pods'].includes(kind)) return { pod: name }
  throw new Error(`port-forward target "${t}": use svc/NAME, deploy/NAME or pod/NAME`)
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

  /** classify with this client's API server, context and namespace in the message */
  classify(err: unknown, what?: string, access?: { verb: string; resource: string }): KubeErrorClass {
    return classifyKubeError(err, { server: this.server, context: this.contextName, namespace: this.namespace, what, ...access })
  }

  /** wrap an access failure into a KubeAccessError naming the server; anything else passes through */
  private rethrow(err: unknown, what: string, access?: { verb: string; resource: string }): never {
    if (err instanceof KubeAccessError || err instanceof KubeConfigError) throw err
    const c = this.classify(err, what, access)
    if (c.kind === 'unreachable' || c.kind === 'unauthorized' || c.kind === 'forbidden' || c.kind === 'not-found') throw new KubeAccessError(c as KubeErrorClass & { kind: KubeAccessKind }, this.server, err)
    throw err
  }

  private async call<T>(what: string, fn: () => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    try {
      return await deadline(fn(), timeoutMs, `${what} (API server ${this.server})`)
    } catch (e) {
      return this.rethrow(e, what)
    }
  }

  readNamespace(name = this.namespace): Promise<k8s.V1Namespace> {
    return this.call(`get namespace ${name}`, () => this.core.readNamespace({ name }))
  }
  readDeployment(name: string): Promise<k8s.V1Deployment> {
    return this.call(`get deployment ${name} in ${this.namespace}`, () => this.apps.readNamespacedDeployment({ name, namespace: this.namespace }))
  }
  readService(name: string): Promise<k8s.V1Service> {
    return this.call(`get service ${name} in ${this.namespace}`, () => this.core.readNamespacedService({ name, namespace: this.namespace }))
  }
  readPod(name: string): Promise<k8s.V1Pod> {
    return this.call(`get pod ${name} in ${this.namespace}`, () => this.core.readNamespacedPod({ name, namespace: this.namespace }))
  }
  async listPods(labelSelector?: string): Promise<k8s.V1Pod[]> {
    const l = await this.call(`list pods${labelSelector ? ` -l ${labelSelector}` : ''} in ${this.namespace}`, () => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: labelSelector || undefined }))
    return l.items
  }
  /** every namespace (kubectl get pods -A): needs list pods at the cluster scope */
  async listPodsAllNamespaces(): Promise<k8s.V1Pod[]> {
    const l = await this.call('list pods in all namespaces', () => this.core.listPodForAllNamespaces({}))
    return l.items
  }
  async podsOfDeployment(name: string): Promise<k8s.V1Pod[]> {
    const d = await this.readDeployment(name)
    return this.listPods(selectorString(d.spec?.selector?.matchLabels))
  }
  /** names only: the harness never needs (or records) secret values */
  async listSecretNames(): Promise<string[]> {
    const l = await this.call(`list secrets in ${this.namespace}`, () => this.core.listNamespacedSecret({ namespace: this.namespace }))
    return l.items.map((s) => s.metadata?.name ?? '').filter(Boolean)
  }
  /** the most recent `limit` events, oldest first (`kubectl get events --sort-by=.lastTimestamp`) */
  async listEvents(limit = 50): Promise<k8s.CoreV1Event[]> {
    const l = await this.call(`list events in ${this.namespace}`, () => this.core.listNamespacedEvent({ namespace: this.namespace }))
    const t = (e: k8s.CoreV1Event) => new Date((e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0) as string | number | Date).getTime()
    return l.items.sort((a, b) => t(a) - t(b)).slice(-limit)
  }
  async listNetworkPolicies(): Promise<k8s.V1NetworkPolicy[]> {
    const l = await this.call(`list networkpolicies in ${this.namespace}`, () => this.net.listNamespacedNetworkPolicy({ namespace: this.namespace }))
    return l.items
  }
  podLogs(pod: string, container: string, opts: { tailLines?: number; previous?: boolean; sinceSeconds?: number } = {}): Promise<string> {
    return this.call(`logs ${pod} -c ${container} in ${this.namespace}`, () => this.core.readNamespacedPodLog({ name: pod, namespace: this.namespace, container, tailLines: opts.tailLines, previous: opts.previous, sinceSeconds: opts.sinceSeconds }))
  }

  /** A strategic merge patch, as `kubectl patch deploy x -p ...` / `kubectl set image` send
   * (containers merge by name, so a patch naming one container leaves the rest). */
  patchDeployment(name: string, patch: object): Promise<k8s.V1Deployment> {
    return this.call(`patch deployment ${name} in ${this.namespace}`, () =>
      this.apps.patchNamespacedDeployment({ name, namespace: this.namespace, body: patch, fieldManager: 'closeout' }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch)),
    )
  }

  /** `kubectl set image deployment/x c=img` */
  setContainerImage(deployment: string, container: string, image: string): Promise<k8s.V1Deployment> {
    return this.patchDeployment(deployment, { spec: { template: { spec: { containers: [{ name: container, image }] } } } })
  }

  createDeployment(doc: k8s.V1Deployment): Promise<k8s.V1Deployment> {
    return this.call(`create deployment ${doc.metadata?.name} in ${this.namespace}`, () => this.apps.createNamespacedDeployment({ namespace: this.namespace, body: doc, fieldManager: 'closeout' }))
  }

  /** A Ready pod of the deployment (the newest), as `kubectl exec deploy/x` picks one. */
  async readyPodOf(deployment: string): Promise<k8s.V1Pod> {
    const pods = await this.podsOfDeployment(deployment)
    const ready = pods.filter(isPodReady).sort((a, b) => new Date(b.metadata?.creationTimestamp ?? 0).getTime() - new Date(a.metadata?.creationTimestamp ?? 0).getTime())
    if (!ready.length) throw new Error(`deployment ${deployment} in ${this.namespace} has no Ready pod (${pods.length} pod(s): ${pods.map((p) => `${p.metadata?.name} ${p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? p.status?.phase}`).join(', ') || 'none'})`)
    return ready[0]
  }

  /** Run a command in a pod over WebSocket (v5). Never throws for a non-zero exit: the exit code comes
   * from the status channel; the deadline cuts the command (exitCode null + error); a connection that
   * ends without a status is an error result, not a hang. Access failures (401/403/404, unreachable)
   * throw KubeAccessError, like every other call. */
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
      exitCode: error ? null : exitCodeFromStatus(status),
      durationMs: Math.round(performance.now() - t0),
      startedAt,
      finishedAt: isoNow(),
      ...(error ? { error } : {}),
    })
    type Socket = { close: () => void; terminate?: () => void; on: (ev: string, fn: (...a: unknown[]) => void) => void; readyState?: number }
    const kill = (ws: Socket) => {
      try {
        if (ws.terminate) ws.terminate()
        else ws.close()
      } catch {
        /* already closed */
      }
    }
    let ws: Socket
    try {
      ws = (await deadline(
        new k8s.Exec(this.kc).exec(this.namespace, pod, o.container, o.command, out, err, stdin, false, (s: k8s.V1Status) => {
          status = s as Status
        }) as unknown as Promise<Socket>,
        Math.min(timeoutMs, this.timeoutMs),
        `exec in ${pod}/${o.container} (API server ${this.server})`,
        kill,
      )) as Socket
    } catch (e) {
      return this.rethrow(e, `exec in pod ${pod} (container ${o.container}) in ${this.namespace}`, { verb: 'create', resource: 'pods/exec' })
    }
    const outcome = await new Promise<string | undefined>((resolve) => {
      const remaining = Math.max(1, timeoutMs - (performance.now() - t0))
      const timer = setTimeout(() => {
        kill(ws) // the server kills the process when the connection goes
        resolve(`deadline of ${timeoutMs} ms exceeded; the command was cut`)
      }, remaining)
      ws.on('close', () => {
        clearTimeout(timer)
        resolve(undefined)
      })
      ws.on('error', (e: unknown) => {
        clearTimeout(timer)
        resolve(`exec connection error: ${(e as Error)?.message ?? String(e)}`)
      })
    })
    await new Promise((r) => setImmediate(r)) // let the last stdout/stderr chunks land
    if (outcome) return finish(outcome)
    if (!status) return finish('the exec connection closed without a status frame; the exit code is unknown')
    if (exitCodeFromStatus(status) === null) return finish(`exec failed: ${status.message ?? status.reason ?? 'unknown'}`)
    return finish()
  }

  /** `kubectl rollout status` on a watch: the initial state is the watch's ADDED event (like kubectl's
   * informer), then kubectl's status logic on every change; ProgressDeadlineExceeded and the deadline
   * end it ("timed out waiting for the condition"). A missing deployment or a refused watch (401/403/404)
   * throws KubeAccessError, so access problems classify as such. */
  async waitForRollout(deployment: string, opts: { timeoutMs: number; onStatus?: (s: string) => void }): Promise<RolloutResult> {
    await this.readDeployment(deployment) // NotFound at once, like kubectl
    const path = `/apis/apps/v1/namespaces/${this.namespace}/deployments`
    let st: { done: boolean; message: string; failed?: boolean } = { done: false, message: `Waiting for deployment "${deployment}" to be seen...` }
    return new Promise<RolloutResult>((resolve, reject) => {
      let ctl: AbortController | undefined
      let settled = false
      let retry: NodeJS.Timeout | undefined
      const finish = (fn: () => void) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        clearTimeout(retry)
        ctl?.abort()
        fn()
      }
      const settle = (r: RolloutResult) => finish(() => resolve(r))
      const fail = (e: unknown) =>
        finish(() => {
          try {
            this.rethrow(e, `watch deployment ${deployment} in ${this.namespace}`, { verb: 'watch', resource: 'deployments' })
          } catch (wrapped) {
            reject(wrapped)
          }
        })
      const timer = setTimeout(() => settle({ done: false, error: `timed out waiting for the condition (${Math.round(opts.timeoutMs / 1000)}s): ${st.message}`, last: st.message }), opts.timeoutMs)
      const start = (): Promise<void> =>
        new k8s.Watch(this.kc)
          .watch(
            path,
            { fieldSelector: `metadata.name=${deployment}`, allowWatchBookmarks: true },
            (type: string, obj: k8s.V1Deployment) => {
              if (type === 'DELETED') return settle({ done: false, error: `deployment "${deployment}" has been deleted`, last: st.message })
              if (type !== 'ADDED' && type !== 'MODIFIED') return // BOOKMARK; ERROR (410) ends the stream and we watch again
              st = deploymentRolloutStatus(obj)
              opts.onStatus?.(st.message)
              if (st.done) settle({ done: true, last: st.message })
              else if (st.failed) settle({ done: false, error: st.message, last: st.message })
            },
            (err: unknown) => {
              if (settled) return
              const code = (err as { statusCode?: number })?.statusCode
              if (code === 401 || code === 403 || code === 404) return fail(Object.assign(new Error(`watch deployments: HTTP ${code}`), { statusCode: code }))
              // the server ended the watch (timeoutSeconds, restart) or it broke: watch again until the deadline
              retry = setTimeout(() => void start().catch(fail), err ? 500 : 0)
            },
          )
          .then((c) => {
            ctl = c
            if (settled) c.abort()
          })
      start().catch(fail)
    })
  }

  /** Port-forward from 127.0.0.1:<random> to a Ready pod of a service / deployment, or a pod; one
   * client-node tunnel (v4.channel.k8s.io) per accepted connection, like kubectl's per-connection streams. */
  async portForward(target: ForwardTarget, port: number): Promise<PortForwardHandle> {
    const t = parseTarget(target)
    let pod = t.pod
    let podPort = port
    if (t.service) {
      const svc = await this.readService(t.service)
      const sp = svc.spec?.ports?.find((p) => p.port === port) ?? (svc.spec?.ports?.length === 1 ? svc.spec.ports[0] : undefined)
      if (!sp) throw new Error(`service ${t.service} in ${this.namespace} has no port ${port} (ports: ${(svc.spec?.ports ?? []).map((p) => p.port).join(', ') || 'none'})`)
      const pods = (await this.listPods(selectorString(svc.spec?.selector))).filter(isPodReady)
      if (!pods.length) throw new Error(`service ${t.service} in ${this.namespace} has no Ready pod behind it (selector ${selectorString(svc.spec?.selector) || 'none'})`)
      pod = pods[0].metadata?.name
      const tp = sp.targetPort ?? sp.port
      if (typeof tp === 'number' || /^\d+$/.test(String(tp))) podPort = Number(tp)
      else {
        // a named targetPort: the container port of that name
        const named = pods[0].spec?.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === tp)
        if (!named) throw new Error(`service ${t.service}: targetPort "${tp}" is not a named port of pod ${pod}`)
        podPort = named.containerPort
      }
    } else if (t.deployment) {
      pod = (await this.readyPodOf(t.deployment)).metadata?.name
    }
    if (!pod) throw new Error('port-forward needs a service, deployment or pod')
    const pf = new k8s.PortForward(this.kc, true)
    // preflight one tunnel so a refused port-forward (401/403/404) is an access error here, not a
    // connection reset later in the middle of an HTTP check
    try {
      const ws = (await deadline(pf.portForward(this.namespace, pod, [podPort], new PassThrough(), null, new PassThrough()), this.timeoutMs, `port-forward to ${pod}:${podPort} (API server ${this.server})`, (w) =>
        (w as unknown as { close?: () => void }).close?.(),
      )) as unknown as { close?: () => void }
      ws.close?.()
    } catch (e) {
      return this.rethrow(e, `port-forward to pod ${pod} port ${podPort} in ${this.namespace}`, { verb: 'create', resource: 'pods/portforward' })
    }
    const sockets = new Set<Socket>()
    const forPod = pod
    const server = createServer((sock) => {
      sockets.add(sock)
      sock.on('close', () => sockets.delete(sock))
      sock.on('error', () => sock.destroy())
      pf.portForward(this.namespace, forPod, [podPort], sock, null, sock).then(
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

  /** Write a file into a container: exec `sh -c 'cat > "$1"' sh DEST` with the content on stdin
   * (the path is an argument and the content never passes through a shell: no quoting). */
  copyToPod(pod: { pod?: string; deployment?: string }, container: string, destPath: string, content: string | Buffer, timeoutMs = 60_000): Promise<ExecResult> {
    return this.execInPod({ ...pod, container, command: ['sh', '-c', 'cat > "$1"', 'sh', destPath], stdin: content, timeoutMs })
  }

  close(): void {
    for (const s of this.forwards) s.close()
  }
}

export interface KubeErrorClass {
  kind: KubeErrorKind
  message: string
  /** HTTP status, when the API server answered */
  code?: number
  /** for not-found: the namespace itself is missing */
  isNamespace?: boolean
  /** for forbidden: what was refused (from the Status message, or the call that was made) */
  verb?: string
  resource?: string
}

export interface KubeErrorContext {
  server?: string
  context?: string
  namespace?: string
  /** the call, e.g. `get deployment web in txlookup` */
  what?: string
  /** for exec / port-forward / watch, whose refusals carry no Status body */
  verb?: string
  resource?: string
}

function statusOf(body: unknown): { message?: string; reason?: string } | undefined {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as { message?: string }
    } catch {
      return undefined
    }
  }
  if (body && typeof body === 'object') return body as { message?: string }
  return undefined
}

const TOKENISH = /(Bearer\s+)[A-Za-z0-9._~+/=-]+|(token[=:]\s*)[A-Za-z0-9._~+/=-]+/gi

/** Map any client-node / network error to a kind and an operator-facing message that names the API
 * server or object and what to do next (never a token). */
export function classifyKubeError(err: unknown, ctx: KubeErrorContext = {}): KubeErrorClass {
  if (err instanceof KubeAccessError) return { kind: err.kind, message: err.message, code: err.code, isNamespace: err.isNamespace, verb: err.verb, resource: err.resource }
  if (err instanceof KubeConfigError) return { kind: 'config', message: err.message }
  const server = ctx.server ? `API server ${ctx.server}` : 'the API server'
  const during = ctx.what ? ` (${ctx.what})` : ''
  if (err instanceof KubeTimeoutError) return { kind: 'unreachable', message: `${err.message}${ctx.what && !err.message.includes(ctx.what) ? during : ''}; check that ${server} is reachable from this runner (VPN / jumpbox / private DNS) and not overloaded` }
  const e = err as { code?: unknown; body?: unknown; message?: string; statusCode?: unknown; cause?: { code?: string; message?: string } }
  let code: number | undefined
  let status: { message?: string } | undefined
  if (err instanceof k8s.ApiException || (typeof e?.code === 'number' && e && 'body' in e)) {
    code = e.code as number
    status = statusOf(e.body)
  } else if (typeof e?.statusCode === 'number') {
    code = e.statusCode // a watch the server refused
  } else {
    const m = /Unexpected server response: (\d{3})/.exec(e?.message ?? '') // a refused WebSocket upgrade (exec / port-forward)
    if (m) code = Number(m[1])
  }
  if (code !== undefined) {
    const msg = status?.message
    if (code === 401) return { kind: 'unauthorized', code, message: `${server} rejected the credentials${ctx.context ? ` of context "${ctx.context}"` : ''} (401 Unauthorized)${during}: the token is missing, expired or revoked; refresh it (az aks get-credentials + kubelogin convert-kubeconfig) and rerun` }
    if (code === 403) {
      const m = /cannot (\S+) resource "([^"]+)"/.exec(msg ?? '')
      const verb = m?.[1] ?? ctx.verb
      const resource = m?.[2] ?? ctx.resource
      const what = msg ?? `the runner identity may not ${verb ?? 'call'} ${resource ?? 'this resource'}${ctx.namespace ? ` in namespace ${ctx.namespace}` : ''}`
      return { kind: 'forbidden', code, verb, resource, message: `forbidden (403) by ${server}${during}: ${what}; grant ${verb ? `"${verb}"` : 'the verb'} on "${resource ?? '?'}" to the runner (deploy/k8s/role.yaml) and rerun` }
    }
    if (code === 404) {
      const isNamespace = /namespaces? "[^"]+" not found/.test(msg ?? '')
      const detail = msg ?? (ctx.what ? `the object of ${ctx.what} does not exist` : 'the object does not exist')
      return { kind: 'not-found', code, isNamespace, message: `not found (404) on ${server}: ${detail}${isNamespace ? '; check kube.namespace and kube.context in the target profile (is this the right cluster?)' : during}` }
    }
    return { kind: 'other', code, message: `${server} answered ${code}${during}: ${msg ?? e?.message ?? ''}`.replace(TOKENISH, '$1$2<redacted>') }
  }
  const text = `${e?.message ?? ''} ${e?.cause?.code ?? ''} ${e?.cause?.message ?? ''}`.replace(TOKENISH, '$1$2<redacted>')
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN|fetch failed|socket hang up|UND_ERR_|TimeoutError|aborted due to timeout/i.test(text)) {
    return { kind: 'unreachable', message: `cannot reach ${server}${during}: ${text.trim().replace(/\s+/g, ' ').slice(0, 200)}; check the network path (VPN / jumpbox / private DNS) and the kubeconfig's server address` }
  }
  if (/certificate|self[- ]signed|SSL|TLS|UNABLE_TO_VERIFY|ERR_TLS/i.test(text)) {
    return { kind: 'unreachable', message: `TLS to ${server} failed${during}: ${text.trim().replace(/\s+/g, ' ').slice(0, 200)}; the kubeconfig's certificate-authority-data does not match the server's certificate (right cluster? rotated CA?)` }
  }
  return { kind: 'other', message: (e?.message ?? String(err)).replace(TOKENISH, '$1$2<redacted>') }
}
