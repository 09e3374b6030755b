// The two contracts every client of the target shares (kube, exec, HTTP api, monitoring, registry,
// ARM): an AccessError base for "could not check", so classification is one instanceof in one
// place, and a CallObserver through which a client reports the call it really made, so the one
// evidence step() can record the real command line without timing or formatting anything itself.

/** What kind of "could not check": the same words for every client. */
export type AccessKind =
  | 'unreachable' // refused, reset, DNS, no answer within the deadline, dropped stream
  | 'tls' // certificate not trusted / wrong CA / hostname mismatch
  | 'unauthorized' // 401, a credential plugin that failed
  | 'forbidden' // 403
  | 'not-found' // the thing to ask is not there (namespace, workspace, repository, cluster)
  | 'server-error' // 5xx, or a body that is not what the protocol says (HTML from a proxy, not an object)
  | 'rate-limited' // 429 after the retry budget
  | 'config' // kubeconfig / credentials missing or unusable

/** Errors of this type mean the check could not be made: the gate is BLOCKED, never failed. */
export class AccessError extends Error {
  readonly kind: AccessKind
  /** the server, URL, workspace or file that was asked */
  readonly where: string
  /** what the operator should do next, one sentence */
  readonly fix: string
  readonly classification: 'ENVIRONMENT_BLOCKED' | 'MONITORING_ACCESS_BLOCKED'
  readonly statusCode?: number
  constructor(opts: {
    kind: AccessKind
    where: string
    message: string
    fix: string
    classification?: 'ENVIRONMENT_BLOCKED' | 'MONITORING_ACCESS_BLOCKED'
    statusCode?: number
    cause?: unknown
  }) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'AccessError'
    this.kind = opts.kind
    this.where = opts.where
    this.fix = opts.fix
    this.classification = opts.classification ?? 'ENVIRONMENT_BLOCKED'
    this.statusCode = opts.statusCode
  }
}

/** One call a client made to the target, as the evidence record shows it. */
export interface CallInfo {
  kind: 'k8s' | 'exec' | 'http' | 'query' | 'registry' | 'arm'
  /** the equivalent command an operator would type (kubectl …, curl-like request line, KQL/PromQL) */
  command: string
  /** context/namespace/pod/container, URL, or workspace + time range */
  target: string
  /** HTTP status, when there was one */
  status?: number
}

/** Clients report each call they make (before or as it completes); step() collects them. */
export type CallObserver = (call: CallInfo) => void
