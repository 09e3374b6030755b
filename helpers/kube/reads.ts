// KubeReads: everything a gate may do without changing the cluster (get/list/logs, exec, rollout
// wait, port-forward), over one shared transport, one pod cache and one set of forwards. A view made
// with observe() shares them and reports every call it makes as a CallInfo with the kubectl line.

import type { Server } from 'node:net'
import type * as k8s from '@kubernetes/client-node'
import type { AccessError, CallInfo, CallObserver } from '../access.ts'
import { classifyKubeError, type KubeErrorClass } from './errors.ts'
import { type ExecOptions, type ExecResult, runExec } from './exec.ts'
import { type KubeCallSpec, kubectlLine } from './kubectl-line.ts'
import { isPodReady, newestFirst, selectorString } from './pods.ts'
import { type ForwardTarget, openPortForward, type PortForwardHandle } from './port-forward.ts'
import { type ProbeResult, probeApiServer } from './probe.ts'
import { type RolloutResult, waitForRollout } from './rollout.ts'
import { type KubeRequest, KubeTransport } from './transport.ts'

export { isPodReady, selectorString }

/** What every view of one client shares: config, connections, caches, open forwards. */
export interface KubeShared {
  kc: k8s.KubeConfig
  namespace: string
  timeoutMs: number
  transport: KubeTransport
  /** deployment → the pod exec resolved for it (dropped when the pod is gone or we changed the deployment) */
  execPods: Map<string, string>
  forwards: Server[]
}

const enc = encodeURIComponent

export class KubeReads {
  readonly kc: k8s.KubeConfig
  readonly namespace: string
  readonly timeoutMs: number
  /** @internal shared with every view of this client */
  readonly shared: KubeShared
  protected readonly observer?: CallObserver

  constructor(
    kc: k8s.KubeConfig,
    opts: { namespace: string; timeoutMs?: number },
    internal?: { shared: KubeShared; observer?: CallObserver },
  ) {
    this.kc = kc
    this.namespace = opts.namespace
    this.timeoutMs = opts.timeoutMs ?? 15_000
    this.shared = internal?.shared ?? {
      kc,
      namespace: this.namespace,
      timeoutMs: this.timeoutMs,
      transport: new KubeTransport(kc),
      execPods: new Map(),
      forwards: [],
    }
    this.observer = internal?.observer
  }

  get contextName(): string {
    return this.kc.getCurrentContext()
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '?'
  }

  /** A view sharing config, connections and caches whose every call is reported to `observer`. */
  observe(observer: CallObserver): this {
    const Ctor = this.constructor as new (
      kc: k8s.KubeConfig,
      o: { namespace: string; timeoutMs?: number },
      i: { shared: KubeShared; observer?: CallObserver },
    ) => this
    return new Ctor(this.kc, { namespace: this.namespace, timeoutMs: this.timeoutMs }, { shared: this.shared, observer })
  }

  /** A view with its own per-call deadline (e.g. a small budget for diagnostics), sharing the rest. */
  withTimeout(timeoutMs: number): this {
    const Ctor = this.constructor as new (
      kc: k8s.KubeConfig,
      o: { namespace: string; timeoutMs?: number },
      i: { shared: KubeShared; observer?: CallObserver },
    ) => this
    return new Ctor(this.kc, { namespace: this.namespace, timeoutMs }, { shared: this.shared, observer: this.observer })
  }

  /** The same client without any mutating method (a read-only gate gets this). */
  readOnly(): KubeReads {
    return new KubeReads(
      this.kc,
      { namespace: this.namespace, timeoutMs: this.timeoutMs },
      { shared: this.shared, observer: this.observer },
    )
  }

  /** @internal report one call to the observer (never lets an observer's error break the call) */
  report(call: Omit<CallInfo, 'target'> & { pod?: string; container?: string }): void {
    if (!this.observer) return
    const target = `context=${this.contextName} namespace=${this.namespace}${call.pod ? ` pod=${call.pod}` : ''}${call.container ? ` container=${call.container}` : ''}`
    try {
      this.observer({ kind: call.kind, command: call.command, target, ...(call.status !== undefined ? { status: call.status } : {}) })
    } catch {
      /* an observer must not change the outcome of the call */
    }
  }

  /** @internal one API call through the shared transport, reported with its kubectl line */
  async request<T>(req: Omit<KubeRequest, 'timeoutMs'> & { timeoutMs?: number }, spec: KubeCallSpec): Promise<T> {
    const command = kubectlLine({ namespace: this.namespace, ...spec })
    try {
      const r = await this.shared.transport.send<T>({ ...req, timeoutMs: req.timeoutMs ?? this.timeoutMs }, this.namespace)
      this.report({ kind: 'k8s', command, status: r.status })
      return r.body
    } catch (e) {
      this.report({ kind: 'k8s', command, status: (e as { code?: number })?.code })
      throw e
    }
  }

  /** classify with this client's API server, context and namespace in the message */
  classify(err: unknown, what?: string, access?: { verb: string; resource: string }): KubeErrorClass {
    return classifyKubeError(err, { server: this.server, context: this.contextName, namespace: this.namespace, what, ...access })
  }

  /** a cheap GET /version with a short deadline: the result, or the AccessError (never throws) */
  probe(timeoutMs = 3000): Promise<ProbeResult | AccessError> {
    return probeApiServer(this.kc, { timeoutMs, transport: this.shared.transport, onCall: (c) => this.report(c) })
  }

  private get nsPath(): string {
    return `/namespaces/${enc(this.namespace)}`
  }

  readNamespace(name = this.namespace): Promise<k8s.V1Namespace> {
    return this.request(
      { method: 'GET', path: `/api/v1/namespaces/${enc(name)}`, expect: 'object', type: 'V1Namespace', what: `get namespace ${name}` },
      { verb: 'get', resource: 'namespaces', name },
    )
  }
  readDeployment(name: string): Promise<k8s.V1Deployment> {
    return this.request(
      {
        method: 'GET',
        path: `/apis/apps/v1${this.nsPath}/deployments/${enc(name)}`,
        expect: 'object',
        type: 'V1Deployment',
        what: `get deployment ${name} in ${this.namespace}`,
      },
      { verb: 'get', resource: 'deployments', name },
    )
  }
  readService(name: string): Promise<k8s.V1Service> {
    return this.request(
      {
        method: 'GET',
        path: `/api/v1${this.nsPath}/services/${enc(name)}`,
        expect: 'object',
        type: 'V1Service',
        what: `get service ${name} in ${this.namespace}`,
      },
      { verb: 'get', resource: 'services', name },
    )
  }
  readPod(name: string): Promise<k8s.V1Pod> {
    return this.request(
      {
        method: 'GET',
        path: `/api/v1${this.nsPath}/pods/${enc(name)}`,
        expect: 'object',
        type: 'V1Pod',
        what: `get pod ${name} in ${this.namespace}`,
      },
      { verb: 'get', resource: 'pods', name },
    )
  }
  async listPods(labelSelector?: string): Promise<k8s.V1Pod[]> {
    const what = `list pods${labelSelector ? ` -l ${labelSelector}` : ''} in ${this.namespace}`
    const l = await this.request<k8s.V1PodList>(
      { method: 'GET', path: `/api/v1${this.nsPath}/pods`, query: { labelSelector }, expect: 'list', type: 'V1PodList', what },
      { verb: 'list', resource: 'pods', labelSelector },
    )
    return l.items
  }
  /** every namespace (kubectl get pods -A): needs list pods at the cluster scope */
  async listPodsAllNamespaces(): Promise<k8s.V1Pod[]> {
    const l = await this.request<k8s.V1PodList>(
      { method: 'GET', path: '/api/v1/pods', expect: 'list', type: 'V1PodList', what: 'list pods in all namespaces' },
      { verb: 'list', resource: 'pods', allNamespaces: true },
    )
    return l.items
  }
  async podsOfDeployment(name: string): Promise<k8s.V1Pod[]> {
    const d = await this.readDeployment(name)
    return this.listPods(selectorString(d.spec?.selector?.matchLabels))
  }
  /** names only: the harness never needs (or records) secret values */
  async listSecretNames(): Promise<string[]> {
    const l = await this.request<k8s.V1SecretList>(
      { method: 'GET', path: `/api/v1${this.nsPath}/secrets`, expect: 'list', what: `list secrets in ${this.namespace}` },
      { verb: 'list', resource: 'secrets', output: 'name' },
    )
    return l.items.map((s) => s.metadata?.name ?? '').filter(Boolean)
  }
  /** the most recent `limit` events, oldest first (`kubectl get events --sort-by=.lastTimestamp`) */
  async listEvents(limit = 50): Promise<k8s.CoreV1Event[]> {
    const l = await this.request<k8s.CoreV1EventList>(
      {
        method: 'GET',
        path: `/api/v1${this.nsPath}/events`,
        expect: 'list',
        type: 'CoreV1EventList',
        what: `list events in ${this.namespace}`,
      },
      { verb: 'list', resource: 'events' },
    )
    const t = (e: k8s.CoreV1Event) =>
      new Date((e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0) as string | number | Date).getTime()
    return l.items.sort((a, b) => t(a) - t(b)).slice(-limit)
  }
  async listNetworkPolicies(): Promise<k8s.V1NetworkPolicy[]> {
    const l = await this.request<k8s.V1NetworkPolicyList>(
      {
        method: 'GET',
        path: `/apis/networking.k8s.io/v1${this.nsPath}/networkpolicies`,
        expect: 'list',
        type: 'V1NetworkPolicyList',
        what: `list networkpolicies in ${this.namespace}`,
      },
      { verb: 'list', resource: 'networkpolicies' },
    )
    return l.items
  }
  podLogs(pod: string, container: string, opts: { tailLines?: number; previous?: boolean; sinceSeconds?: number } = {}): Promise<string> {
    const query = { container, tailLines: opts.tailLines, previous: opts.previous || undefined, sinceSeconds: opts.sinceSeconds }
    return this.request(
      {
        method: 'GET',
        path: `/api/v1${this.nsPath}/pods/${enc(pod)}/log`,
        query,
        expect: 'text',
        what: `logs ${pod} -c ${container} in ${this.namespace}`,
        access: { verb: 'get', resource: 'pods/log' },
      },
      { verb: 'logs', resource: 'pods', name: pod, logs: { container, ...opts } },
    )
  }

  /** A Ready pod of the deployment (the newest), as `kubectl exec deploy/x` picks one (always read fresh). */
  async readyPodOf(deployment: string): Promise<k8s.V1Pod> {
    const pods = await this.podsOfDeployment(deployment)
    const ready = pods.filter(isPodReady).sort(newestFirst)
    if (!ready.length) {
      const seen = pods
        .map((p) => `${p.metadata?.name} ${p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? p.status?.phase}`)
        .join(', ')
      throw new Error(`deployment ${deployment} in ${this.namespace} has no Ready pod (${pods.length} pod(s): ${seen || 'none'})`)
    }
    return ready[0]
  }

  /** @internal the pod exec uses for a deployment: resolved once per run, until it is gone */
  async execPodOf(deployment: string, fresh = false): Promise<string> {
    const cached = fresh ? undefined : this.shared.execPods.get(deployment)
    if (cached) return cached
    const pod = (await this.readyPodOf(deployment)).metadata?.name ?? '?'
    this.shared.execPods.set(deployment, pod)
    return pod
  }

  /** @internal forget the exec pod of a deployment (it changed, or the pod is gone) */
  forgetExecPod(deployment?: string): void {
    if (deployment === undefined) this.shared.execPods.clear()
    else this.shared.execPods.delete(deployment)
  }

  /** Run a command in a pod over WebSocket (v5). Never throws for a non-zero exit; see exec.ts for
   * the rule on deadlines and streams that end without a status. Access failures throw AccessError. */
  execInPod(o: ExecOptions): Promise<ExecResult> {
    return runExec(this, o)
  }

  /** `kubectl rollout status` on a watch (see rollout.ts). */
  waitForRollout(deployment: string, opts: { timeoutMs: number; onStatus?: (s: string) => void }): Promise<RolloutResult> {
    return waitForRollout(this, deployment, opts)
  }

  /** Port-forward from 127.0.0.1:<random> to a Ready pod of a service / deployment, or a pod. */
  portForward(target: ForwardTarget, port: number): Promise<PortForwardHandle> {
    return openPortForward(this, target, port)
  }

  /** Write a file into a container: exec `sh -c 'cat > "$1"' sh DEST` with the content on stdin
   * (the path is an argument and the content never passes through a shell: no quoting). */
  copyToPod(
    pod: { pod?: string; deployment?: string },
    container: string,
    destPath: string,
    content: string | Buffer,
    timeoutMs = 60_000,
  ): Promise<ExecResult> {
    return this.execInPod({ ...pod, container, command: ['sh', '-c', 'cat > "$1"', 'sh', destPath], stdin: content, timeoutMs })
  }

  /** close the forwards and the connection pool of this client (every view shares them) */
  close(): void {
    for (const s of this.shared.forwards) s.close()
    this.shared.forwards.length = 0
    this.shared.transport.close()
  }
}
