// One transport to the API server for the kube layer: one keep-alive connection pool (undici Agent)
// per KubeConfig cluster+user instead of client-node's new dispatcher (and TLS handshake) per typed
// call, the credentials from the kubeconfig (exec plugin included, cached by client-node), one
// deadline per call, and every answer checked before a caller sees it: a non-2xx is mapped by
// status, a 2xx that is not a Kubernetes object (HTML from a proxy, `{}` or a string) is a
// server-error AccessError, never a TypeError further down.
import type * as k8s from '@kubernetes/client-node'
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js'
import { Agent, type Dispatcher, ProxyAgent, request } from 'undici'
import { describeCredentialFailure } from './config.ts'
import {
  classifyKubeError,
  cleanText,
  describeBadBody,
  describeHttpStatus,
  KubeAccessError,
  type KubeAccessKind,
  KubeConfigError,
  type KubeErrorClass,
  type KubeErrorContext,
  KubeTimeoutError,
  toKubeAccessError,
} from './errors.ts'

export interface KubeRequest {
  method: 'GET' | 'PATCH' | 'POST' | 'DELETE' | 'PUT'
  path: string
  query?: Record<string, string | number | boolean | undefined>
  body?: unknown
  contentType?: string
  /** what a 2xx body must be: a Kubernetes object, a list (items[]), any JSON object, or text (logs) */
  expect: 'object' | 'list' | 'json' | 'text'
  /** client-node model name to deserialize into (dates become Date, as the typed API returns) */
  type?: string
  timeoutMs: number
  /** the call, for messages: `get deployment web in txlookup` */
  what: string
  /** verb and resource, for a 403 without a Status body */
  access?: { verb: string; resource: string }
}

export interface KubeResponse<T> {
  status: number
  body: T
}

/** A non-2xx answer that is the call's own error (409 conflict, 422 invalid): not "could not check". */
export class KubeApiError extends Error {
  readonly code: number
  readonly body: string
  constructor(code: number, body: string, message: string) {
    super(message)
    this.name = 'KubeApiError'
    this.code = code
    this.body = body
  }
}

/** the https options client-node builds (headers with the bearer token, CA, client certificate) */
export type AuthOptions = {
  headers?: Record<string, string>
  ca?: Buffer | string
  cert?: Buffer | string
  key?: Buffer | string
  rejectUnauthorized?: boolean
  servername?: string
  agent?: unknown
}

export class KubeTransport {
  readonly kc: k8s.KubeConfig
  private dispatcher?: Dispatcher

  constructor(kc: k8s.KubeConfig) {
    this.kc = kc
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '?'
  }

  /** Credentials for one call; the exec plugin's failures name the plugin. */
  async authOptions(): Promise<AuthOptions> {
    const cluster = this.kc.getCurrentCluster()
    if (cluster?.server.startsWith('http:') && !cluster.skipTLSVerify) {
      throw new KubeConfigError(
        `the kubeconfig's server ${cluster.server} is plain http; use the https address of the API server (a local double may set insecure-skip-tls-verify: true)`,
        cluster.server,
        'use the https address of the API server',
      )
    }
    const opts: AuthOptions = {}
    try {
      await this.kc.applyToHTTPSOptions(opts as never)
    } catch (e) {
      throw describeCredentialFailure(e, this.kc, this.server)
    }
    return opts
  }

  private dispatcherFor(o: AuthOptions): Dispatcher {
    if (this.dispatcher) return this.dispatcher
    const tls = { ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: o.rejectUnauthorized, servername: o.servername }
    const proxy = this.kc.getCurrentCluster()?.proxyUrl
    this.dispatcher = proxy
      ? new ProxyAgent({ uri: proxy, requestTls: tls })
      : new Agent({ connect: { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 }, keepAliveTimeout: 30_000 })
    return this.dispatcher
  }

  private url(req: KubeRequest): string {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined && v !== '') q.set(k, String(v))
    const qs = q.toString()
    return `${this.server.replace(/\/$/, '')}${req.path}${qs ? `?${qs}` : ''}`
  }

  private ctx(req: KubeRequest, namespace?: string): KubeErrorContext & { server: string } {
    return { server: this.server, context: this.kc.getCurrentContext(), namespace, what: req.what, ...req.access }
  }

  /** One call with its deadline; the answer validated; every failure an AccessError or KubeApiError. */
  async send<T>(req: KubeRequest, namespace?: string): Promise<KubeResponse<T>> {
    const ac = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      ac.abort()
    }, req.timeoutMs)
    try {
      const work = this.exchange<T>(req, ac.signal, namespace)
      // the exec plugin cannot be aborted: the race keeps a hanging plugin inside the deadline
      const late = new Promise<never>((_, rej) => ac.signal.addEventListener('abort', () => rej(new Error('aborted')), { once: true }))
      return await Promise.race([work, late])
    } catch (e) {
      if (timedOut)
        throw new KubeTimeoutError(`no answer from API server ${this.server} within ${req.timeoutMs} ms (${req.what})`, this.server)
      throw this.mapError(e, req, namespace)
    } finally {
      clearTimeout(timer)
    }
  }

  private mapError(e: unknown, req: KubeRequest, namespace?: string): unknown {
    if (e instanceof KubeAccessError || e instanceof KubeConfigError || e instanceof KubeApiError) return e
    const access = toKubeAccessError(e, this.ctx(req, namespace))
    if (access) return access
    // not an access failure and not an answer we could read: still never a raw TypeError text in a reason
    const detail =
      e instanceof TypeError || e instanceof RangeError
        ? 'an answer the client could not read'
        : classifyKubeError(e, this.ctx(req, namespace)).message
    const fix = 'rerun; if it persists, compare with kubectl against the same server'
    return new KubeAccessError(
      { kind: 'server-error', message: `the call to API server ${this.server} failed (${req.what}): ${detail}; ${fix}`, fix },
      this.server,
      e,
    )
  }

  private async exchange<T>(req: KubeRequest, signal: AbortSignal, namespace?: string): Promise<KubeResponse<T>> {
    const auth = await this.authOptions()
    const headers: Record<string, string> = {
      ...(auth.headers ?? {}),
      accept: 'application/json, */*;q=0.8',
      'user-agent': 'closeout-kube',
    }
    let body: string | undefined
    if (req.body !== undefined) {
      body = JSON.stringify(req.body)
      headers['content-type'] = req.contentType ?? 'application/json'
    }
    const res = await this.requestOnce(req, { method: req.method, headers, body, signal, dispatcher: this.dispatcherFor(auth) })
    const text = await res.body.text()
    return { status: res.statusCode, body: this.check<T>(res.statusCode, String(res.headers['content-type'] ?? ''), text, req, namespace) }
  }

  /** A pooled connection the server closed while idle (its keep-alive timeout, seen late when the
   * event loop was busy) fails at once with "other side closed": an idempotent call is sent once more
   * on a fresh connection. POST (create) is never resent. */
  private async requestOnce(
    req: KubeRequest,
    opts: { method: KubeRequest['method']; headers: Record<string, string>; body?: string; signal: AbortSignal; dispatcher: Dispatcher },
  ): Promise<Dispatcher.ResponseData<unknown>> {
    try {
      return await request(this.url(req), opts)
    } catch (e) {
      const code = (e as { code?: string })?.code
      if (req.method === 'POST' || (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET') || opts.signal.aborted) throw e
      return request(this.url(req), opts)
    }
  }

  private check<T>(status: number, contentType: string, text: string, req: KubeRequest, namespace?: string): T {
    const ctx = this.ctx(req, namespace)
    const fail = (c: KubeErrorClass): never => {
      if (c.kind === 'other') throw new KubeApiError(status, text, c.message)
      throw new KubeAccessError(c as KubeErrorClass & { kind: KubeAccessKind }, this.server)
    }
    const looksHtml = /html/i.test(contentType) || /^\s*</.test(text)
    if (status < 200 || status > 299) {
      if (looksHtml && ![401, 403, 404, 429].includes(status)) return fail(describeBadBody(text, ctx, status))
      return fail(describeHttpStatus(status, text, ctx))
    }
    if (req.expect === 'text') {
      if (looksHtml && /html/i.test(contentType)) return fail(describeBadBody(text, ctx, status))
      return text as T
    }
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch {
      return fail(describeBadBody(text, ctx, status))
    }
    if (!isExpectedShape(v, req.expect)) return fail(describeBadBody(cleanText(text, 80), ctx, status))
    return (req.type ? ObjectSerializer.deserialize(v, req.type, '') : v) as T
  }

  close(): void {
    void this.dispatcher?.close().catch(() => undefined)
    this.dispatcher = undefined
  }
}

/** what a Kubernetes answer looks like: an object with kind/metadata, or a list with items[] */
function isExpectedShape(v: unknown, expect: KubeRequest['expect']): boolean {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false
  const o = v as { kind?: unknown; metadata?: unknown; items?: unknown }
  if (expect === 'json') return true
  if (expect === 'list') return Array.isArray(o.items)
  return typeof o.kind === 'string' || (typeof o.metadata === 'object' && o.metadata !== null)
}
