// The Kubernetes side of "could not check": every failure to ask the API server becomes one
// AccessError subclass (classification ENVIRONMENT_BLOCKED), with a message that names the server,
// what came back, and what to do, and a hint chosen by the cause (CA, DNS, refused, no answer, 401,
// 403 with the Role rule to add, 5xx, a body that is not a Kubernetes object, a credential plugin).
import * as k8s from '@kubernetes/client-node'
import { AccessError, type AccessKind } from '../access.ts'

export type KubeAccessKind = Exclude<AccessKind, 'config'>
export type KubeErrorKind = AccessKind | 'timeout' | 'other'

/** Where a failed call went and what it was; every message is built from this. */
export interface KubeErrorContext {
  server?: string
  context?: string
  namespace?: string
  /** the call, e.g. `get deployment web in txlookup` */
  what?: string
  /** for exec / port-forward / watch, whose refusals may carry no Status body */
  verb?: string
  resource?: string
}

export interface KubeErrorClass {
  kind: KubeErrorKind
  message: string
  fix?: string
  /** HTTP status, when the API server answered */
  code?: number
  /** for not-found: the namespace itself is missing */
  isNamespace?: boolean
  /** for forbidden: what was refused (from the Status message, or the call that was made) */
  verb?: string
  resource?: string
  /** the server gave no answer at all (refused, reset, DNS, deadline): the only case where a
   * harness may add "is the local environment up?" for a local profile */
  isNoAnswer?: boolean
}

export class KubeConfigError extends AccessError {
  constructor(message: string, where = 'kubeconfig', fix = 'set kube.kubeconfig / kube.context in the target profile, or KUBECONFIG') {
    super({ kind: 'config', where, message, fix })
    this.name = 'KubeConfigError'
  }
}

/** A call the cluster refused or could not answer: "could not check", not a finding about the target.
 * `code` is the HTTP status when there was one (callers test `code === 404`, as on client-node's ApiException). */
export class KubeAccessError extends AccessError {
  declare readonly kind: KubeAccessKind
  readonly code?: number
  readonly server: string
  readonly verb?: string
  readonly resource?: string
  readonly isNamespace?: boolean
  readonly isNoAnswer: boolean
  constructor(c: KubeErrorClass & { kind: KubeAccessKind }, server: string, cause?: unknown) {
    super({ kind: c.kind, where: server, message: c.message, fix: c.fix ?? '', statusCode: c.code, cause })
    this.name = 'KubeAccessError'
    this.code = c.code
    this.server = server
    this.verb = c.verb
    this.resource = c.resource
    this.isNamespace = c.isNamespace
    this.isNoAnswer = Boolean(c.isNoAnswer)
  }
}

/** No answer within the deadline: an access error of kind unreachable (kept as its own class for
 * callers that test it; `instanceof KubeAccessError` and `instanceof AccessError` both hold). */
export class KubeTimeoutError extends KubeAccessError {
  constructor(
    message: string,
    server = 'the API server',
    fix = 'check the network path to the API server (VPN / jumpbox / firewall / authorized IP ranges) and that it is not overloaded, then rerun',
  ) {
    super({ kind: 'unreachable', message: message.includes(fix) ? message : `${message}; ${fix}`, fix, isNoAnswer: true }, server)
    this.name = 'KubeTimeoutError'
  }
}

/** An exec whose stream broke before the exit status (dropped, malformed or missing status): the
 * output so far travels with the error, so the evidence can still show it. */
export class KubeExecError extends KubeAccessError {
  readonly partial: { stdout: string; stderr: string }
  constructor(c: KubeErrorClass & { kind: KubeAccessKind }, server: string, partial: { stdout: string; stderr: string }, cause?: unknown) {
    super(c, server, cause)
    this.name = 'KubeExecError'
    this.partial = partial
  }
}

const TOKENISH = /(Bearer\s+)[A-Za-z0-9._~+/=-]+|(token[=:]\s*)[A-Za-z0-9._~+/=-]+/gi

/** secrets never reach a message; one line, bounded */
export function cleanText(s: string, max = 200): string {
  return s.replace(TOKENISH, '$1$2<redacted>').replace(/\s+/g, ' ').trim().slice(0, max)
}

function statusOf(body: unknown): { message?: string; reason?: string } | undefined {
  if (typeof body === 'string') {
    try {
      const v = JSON.parse(body) as unknown
      return v && typeof v === 'object' ? (v as { message?: string }) : undefined
    } catch {
      return undefined
    }
  }
  if (body && typeof body === 'object') return body as { message?: string }
  return undefined
}

/** the API group a resource lives in, for the Role rule we tell the operator to add */
function apiGroupOf(resource: string | undefined, msg: string | undefined): string {
  const m = /in API group "([^"]*)"/.exec(msg ?? '')
  if (m) return m[1]
  const base = (resource ?? '').split('/')[0]
  if (['deployments', 'replicasets', 'statefulsets', 'daemonsets'].includes(base)) return 'apps'
  if (base === 'networkpolicies') return 'networking.k8s.io'
  return ''
}

function forbidden(code: number, msg: string | undefined, ctx: KubeErrorContext, server: string, during: string): KubeErrorClass {
  const m = /cannot (\S+) resource "([^"]+)"(?: in API group "[^"]*")?/.exec(msg ?? '')
  let verb = m?.[1] ?? ctx.verb
  let resource = m?.[2] ?? ctx.resource
  if (resource && !resource.includes('/') && ctx.resource?.startsWith(`${resource}/`)) resource = ctx.resource
  // a WebSocket exec / port-forward is a GET that 1.31+ API servers also authorize as create: the Role needs both
  const streaming = /^pods\/(exec|attach|portforward)$/.test(resource ?? '')
  if (streaming) verb = ctx.verb ?? 'create'
  const what =
    msg ??
    `the runner identity may not ${verb ?? 'call'} ${resource ?? 'this resource'}${ctx.namespace ? ` in namespace ${ctx.namespace}` : ''}`
  const verbs = streaming ? '"create", "get"' : `"${verb ?? '?'}"`
  const rule = `- apiGroups: ["${apiGroupOf(resource, msg)}"]  resources: ["${resource ?? '?'}"]  verbs: [${verbs}]`
  const fix = `add the rule ${rule} to the runner's Role${ctx.namespace ? ` in namespace ${ctx.namespace}` : ''} (deploy/k8s/role.yaml) and rerun`
  return { kind: 'forbidden', code, verb, resource, fix, message: `forbidden (403) by ${server}${during}: ${cleanText(what, 300)}; ${fix}` }
}

/** A non-2xx answer from the API server (typed client, our transport, a refused WebSocket upgrade). */
export function describeHttpStatus(code: number, body: unknown, ctx: KubeErrorContext): KubeErrorClass {
  const server = ctx.server ? `API server ${ctx.server}` : 'the API server'
  const during = ctx.what ? ` (${ctx.what})` : ''
  const status = statusOf(body)
  const msg = typeof status?.message === 'string' ? status.message : undefined
  if (code === 401) {
    const fix =
      'refresh the credentials (az aks get-credentials, then kubelogin convert-kubeconfig -l azurecli or workloadidentity) and rerun'
    return {
      kind: 'unauthorized',
      code,
      fix,
      message: `${server} rejected the credentials${ctx.context ? ` of context "${ctx.context}"` : ''} (401 Unauthorized)${during}: the token is missing, expired or revoked; ${fix}`,
    }
  }
  if (code === 403) return forbidden(code, msg, ctx, server, during)
  if (code === 404) {
    const isNamespace = /namespaces? "[^"]+" not found/.test(msg ?? '')
    const detail = msg ?? (ctx.what ? `the object of ${ctx.what} does not exist` : 'the object does not exist')
    const fix = isNamespace
      ? 'check kube.namespace and kube.context in the target profile (is this the right cluster?)'
      : 'check the object name in the target profile'
    return {
      kind: 'not-found',
      code,
      isNamespace,
      fix,
      message: `not found (404) on ${server}: ${cleanText(detail, 300)}${isNamespace ? `; ${fix}` : during}`,
    }
  }
  if (code === 429) {
    const fix = 'the API server is throttling this client; rerun later or lower the run parallelism'
    return { kind: 'rate-limited', code, fix, message: `${server} answered 429 Too Many Requests${during}; ${fix}` }
  }
  const said = msg ?? (typeof body === 'string' ? body : '')
  if (code >= 500) {
    const fix =
      'nothing was checked; the API server (or etcd behind it) is failing: check the control plane health (az aks show, the cluster status page) and rerun'
    return {
      kind: 'server-error',
      code,
      fix,
      message: `${server} answered ${code}${said ? ` "${cleanText(said, 160)}"` : ''}${during}; ${fix}`,
    }
  }
  return { kind: 'other', code, message: `${server} answered ${code}${during}: ${cleanText(said || 'no message', 300)}` }
}

/** A 2xx answer whose body is not what the Kubernetes API sends (a proxy's HTML login page, JSON
 * that is not an object of the expected shape). */
export function describeBadBody(got: string, ctx: KubeErrorContext, status?: number): KubeErrorClass {
  const server = ctx.server ? `API server ${ctx.server}` : 'the API server'
  const during = ctx.what ? ` (${ctx.what})` : ''
  const html = /^\s*</.test(got) || /<html|<!doctype/i.test(got)
  const what = html
    ? 'an HTML page, not a Kubernetes object (a proxy or login page in front of the API server?)'
    : `a body that is not a Kubernetes object (${cleanText(got, 80) || 'empty'})`
  const fix = html
    ? "check the kubeconfig's server address: it must be the API server itself, not a web proxy, gateway or SSO page (set NO_PROXY for it if a proxy intercepts)"
    : "check the kubeconfig's server address points at a Kubernetes API server (not another service on that port), then rerun"
  return {
    kind: 'server-error',
    code: status,
    fix,
    message: `${server} answered${status === undefined ? '' : ` ${status}`} with ${what}${during}; ${fix}`,
  }
}

/** Network-level failures (no HTTP status): TLS, DNS, refused, reset, no answer. */
function describeNetwork(text: string, ctx: KubeErrorContext): KubeErrorClass | undefined {
  const server = ctx.server ? `API server ${ctx.server}` : 'the API server'
  const during = ctx.what ? ` (${ctx.what})` : ''
  const host = hostOf(ctx.server)
  if (/CERT_ALTNAME|Hostname\/IP does not match|altnames/i.test(text)) {
    const fix = `use the server address the certificate was issued for, or set tls-server-name for the cluster in the kubeconfig`
    return {
      kind: 'tls',
      fix,
      message: `TLS to ${server} failed${during}: the certificate does not name ${host ?? 'this host'} (${cleanText(text, 120)}); ${fix}`,
    }
  }
  if (
    /UNABLE_TO_VERIFY|SELF_SIGNED|self[- ]signed|unable to get (local )?issuer|CERT_HAS_EXPIRED|certificate|ERR_TLS|SSL routines|wrong version number|EPROTO/i.test(
      text,
    )
  ) {
    const fix =
      "re-fetch the kubeconfig (az aks get-credentials) so certificate-authority-data matches the cluster's CA (right cluster? rotated CA?), then rerun"
    return {
      kind: 'tls',
      fix,
      message: `TLS to ${server} failed${during}: its certificate is not trusted by the kubeconfig's certificate-authority-data (${cleanText(text, 120)}); ${fix}`,
    }
  }
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(text)) {
    const fix = `check the server address in the kubeconfig and the runner's DNS (a private AKS cluster's name resolves only inside its VNet or through its private DNS zone / VPN)`
    return {
      kind: 'unreachable',
      isNoAnswer: true,
      fix,
      message: `cannot resolve ${host ?? 'the API server host'} (DNS)${during}: ${server} has no address from this runner; ${fix}`,
    }
  }
  if (/ECONNREFUSED/i.test(text)) {
    const fix = 'check the server address and port in the kubeconfig and that the API server (or the tunnel to it) is running'
    return {
      kind: 'unreachable',
      isNoAnswer: true,
      fix,
      message: `connection refused by ${host ?? 'the API server'}${during}: nothing listens at ${server}; ${fix}`,
    }
  }
  if (/ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|TimeoutError|aborted due to timeout|timed out|handshake/i.test(text)) {
    const fix =
      'check the network path (VPN / jumpbox / firewall / authorized IP ranges) and that the API server is not overloaded, then rerun'
    return { kind: 'unreachable', isNoAnswer: true, fix, message: `no answer from ${server}${during}: ${cleanText(text, 120)}; ${fix}` }
  }
  if (/ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|other side closed|UND_ERR_SOCKET|fetch failed|UND_ERR_/i.test(text)) {
    const fix = "check the network path (VPN / jumpbox / private DNS) and the kubeconfig's server address, then rerun"
    return {
      kind: 'unreachable',
      isNoAnswer: true,
      fix,
      message: `cannot reach ${server}${during}: the connection failed (${cleanText(text, 120)}); ${fix}`,
    }
  }
  return undefined
}

export function hostOf(server: string | undefined): string | undefined {
  if (!server) return undefined
  try {
    return new URL(server).host
  } catch {
    return server
  }
}

/** every text an error carries, nested causes included (undici wraps the socket error) */
function errorText(err: unknown): string {
  const parts: string[] = []
  let e = err as { message?: unknown; code?: unknown; cause?: unknown; errors?: unknown[] } | undefined
  for (let i = 0; e && i < 4; i++) {
    parts.push(String(e.message ?? ''), String(e.code ?? ''))
    if (Array.isArray(e.errors))
      for (const x of e.errors) parts.push(String((x as Error)?.message ?? ''), String((x as { code?: string })?.code ?? ''))
    e = e.cause as typeof e
  }
  return parts.filter(Boolean).join(' ')
}

/** Map any client-node / network / transport error to a kind and an operator-facing message that names
 * the API server or object and what to do next (never a token, never a TypeError text). */
export function classifyKubeError(err: unknown, ctx: KubeErrorContext = {}): KubeErrorClass {
  if (err instanceof KubeAccessError)
    return {
      kind: err.kind,
      message: err.message,
      fix: err.fix,
      code: err.code,
      isNamespace: err.isNamespace,
      verb: err.verb,
      resource: err.resource,
      isNoAnswer: err.isNoAnswer,
    }
  if (err instanceof AccessError) return { kind: err.kind, message: err.message, fix: err.fix, code: err.statusCode }
  const e = err as { code?: unknown; body?: unknown; message?: string; statusCode?: unknown }
  let code: number | undefined
  let body: unknown
  if (err instanceof k8s.ApiException || (typeof e?.code === 'number' && e && 'body' in e)) {
    code = e.code as number
    body = e.body
  } else if (typeof e?.statusCode === 'number') {
    code = e.statusCode // a watch the server refused
  } else {
    const m = /Unexpected server response: (\d{3})/.exec(e?.message ?? '') // a refused WebSocket upgrade (client-node port-forward)
    if (m) code = Number(m[1])
  }
  if (code !== undefined) return describeHttpStatus(code, body, ctx)
  const net = describeNetwork(errorText(err), ctx)
  if (net) return net
  return { kind: 'other', message: cleanText(e?.message ?? String(err), 400) }
}

/** The AccessError for a failure, or undefined when it is not an access problem (a 409 conflict, a
 * 422 invalid patch: the call's own error, passed through). */
export function toKubeAccessError(err: unknown, ctx: KubeErrorContext & { server: string }): AccessError | undefined {
  if (err instanceof AccessError) return err
  const c = classifyKubeError(err, ctx)
  if (c.kind === 'other' || c.kind === 'timeout' || c.kind === 'config') return undefined
  return new KubeAccessError(c as KubeErrorClass & { kind: KubeAccessKind }, ctx.server, err)
}
