// transport: the one request helper under every HTTP client closeout runs itself (the API smoke,
// PromQL, the image registry, Azure Resource Manager). One CA-aware undici Agent per CA (the caller's
// CA file, else the local environment's CLOSEOUT_LOCAL_CA_FILE, else the system store), one deadline
// (AbortSignal.timeout raced, because undici does not abort a TLS handshake in progress), a capped
// body read (a 50 MB answer is stopped, never buffered), redirects only when asked (a loop stops),
// one mapping of network failures and access statuses to AccessError kinds with a fix that follows
// the cause, a bounded retry for transient answers, and every attempt reported to the observer.
// The Azure SDK keeps its own pipeline; it shares the CA (httpsAgentFor), the deadline (withDeadline),
// the network-cause wording (describeNetworkError) and the retry (retryTransient) from here.

import { readFileSync } from 'node:fs'
import { Agent as HttpsAgent } from 'node:https'
import { getCACertificates, rootCertificates } from 'node:tls'
import { Agent, request } from 'undici'
import { AccessError, type AccessKind, type CallInfo, type CallObserver } from './access.ts'
import { safeUrl } from './safe-url.ts'

// ---------------------------------------------------------------- CA and agents

/** The CA file a client trusts besides the system store: its own option, else the local environment's. */
export function resolveCaFile(url: string, caFile?: string): string {
  if (!url.startsWith('https:')) return ''
  return caFile ?? process.env.CLOSEOUT_LOCAL_CA_FILE ?? ''
}

/** The PEM list for a CA file: the default store (system roots plus NODE_EXTRA_CA_CERTS) and the file. */
function caList(file: string): string[] {
  const base = typeof getCACertificates === 'function' ? getCACertificates('default') : [...rootCertificates]
  try {
    return [...base, readFileSync(file, 'utf8')]
  } catch (err) {
    throw new AccessError({
      kind: 'config',
      where: file,
      message: `the CA file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}) — point the CA setting (or CLOSEOUT_LOCAL_CA_FILE) at a readable PEM file`,
      fix: 'point the CA setting (or CLOSEOUT_LOCAL_CA_FILE) at a readable PEM file',
    })
  }
}

const undiciAgents = new Map<string, Agent>()
const httpsAgents = new Map<string, HttpsAgent>()

/** One undici Agent per CA ('' = the system store), shared by every client that trusts that CA. */
export function agentFor(url: string, caFile?: string): Agent {
  const file = resolveCaFile(url, caFile)
  let a = undiciAgents.get(file)
  if (!a) {
    const connect = file ? { ca: caList(file) } : undefined
    a = new Agent({ connectTimeout: 5_000, keepAliveTimeout: 10, keepAliveMaxTimeout: 10, allowH2: false, ...(connect ? { connect } : {}) })
    undiciAgents.set(file, a)
  }
  return a
}

/** The node:https Agent for the same CA, for the Azure SDK's pipeline; undefined = the SDK's default. */
export function httpsAgentFor(url: string, caFile?: string): HttpsAgent | undefined {
  const file = resolveCaFile(url, caFile)
  if (!file) return undefined
  let a = httpsAgents.get(file)
  if (!a) httpsAgents.set(file, (a = new HttpsAgent({ ca: caList(file), keepAlive: false })))
  return a
}

// ---------------------------------------------------------------- deadline

/** Thrown by withDeadline when the time is up (the work is abandoned, its socket closed by the signal). */
export class DeadlineError extends Error {
  readonly timeoutMs: number
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`)
    this.name = 'DeadlineError'
    this.timeoutMs = timeoutMs
  }
}

/** Run work with a signal that aborts at the deadline and race it, so a hung TLS handshake or a
 * library that ignores the signal still ends on time. */
export async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(timeoutMs)
  const expired = new Promise<never>((_, rej) => signal.addEventListener('abort', () => rej(new DeadlineError(timeoutMs)), { once: true }))
  expired.catch(() => undefined)
  try {
    return await Promise.race([work(signal), expired])
  } catch (err) {
    // the library's own abort error, raised by our signal: the same deadline
    if (signal.aborted) throw new DeadlineError(timeoutMs)
    throw err
  }
}

// ---------------------------------------------------------------- secrets out of URLs

export { safeUrl } from './safe-url.ts'

// ---------------------------------------------------------------- error mapping

/** What a client tells the transport about itself, so messages name the thing and the setting. */
export interface ServiceContext {
  /** the thing asked, e.g. "registry https://r.azurecr.io (repository txlookup/consumer)" */
  where: string
  /** the profile key holding the URL, e.g. consumer.registry.url */
  urlKey: string
  /** the profile key of the deadline, e.g. consumer.registry.timeoutMs */
  timeoutKey: string
  /** how to trust a private CA for this client */
  caKey?: string
  /** fixes for answers, specific to the service (each cause its own) */
  fixes?: Partial<Record<'unauthorized' | 'forbidden' | 'not-found' | 'rate-limited' | 'server-error', string>>
  classification?: AccessError['classification']
}

export type NetworkCause =
  | 'timeout'
  | 'refused'
  | 'dns'
  | 'reset'
  | 'tls-untrusted'
  | 'tls-hostname'
  | 'tls-expired'
  | 'tls-protocol'
  | 'other'

const TLS_UNTRUSTED =
  /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|CERT_UNTRUSTED|unable to verify|self[- ]signed/i

/** The cause of a failed request, from undici's, node's or the Azure SDK's error (code, cause, message). */
export function networkCause(err: unknown): { cause: NetworkCause; code: string; detail: string } {
  const e = err as { name?: string; code?: unknown; message?: string; cause?: { code?: string; message?: string } }
  const code = String((typeof e?.code === 'string' ? e.code : undefined) ?? e?.cause?.code ?? e?.name ?? 'ERROR')
  const detail = `${e?.cause?.message ?? e?.message ?? String(err)}`.split('\n')[0]
  const text = `${code} ${e?.cause?.code ?? ''} ${detail}`
  let cause: NetworkCause = 'other'
  if (
    err instanceof DeadlineError ||
    /TimeoutError|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|ETIMEDOUT/.test(text)
  )
    cause = 'timeout'
  else if (/ECONNREFUSED/.test(text)) cause = 'refused'
  else if (/ENOTFOUND|EAI_AGAIN|EAI_NONAME/.test(text)) cause = 'dns'
  else if (/ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match/i.test(text)) cause = 'tls-hostname'
  else if (/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/.test(text)) cause = 'tls-expired'
  else if (TLS_UNTRUSTED.test(text)) cause = 'tls-untrusted'
  else if (/EPROTO|wrong version number|ERR_SSL/i.test(text)) cause = 'tls-protocol'
  else if (/ECONNRESET|EPIPE|UND_ERR_SOCKET|other side closed|socket hang up/i.test(text)) cause = 'reset'
  return { cause, code, detail }
}

/** One sentence per cause: what happened, then (after " — ") what to do. */
export function describeNetworkError(
  err: unknown,
  url: string,
  ctx: ServiceContext,
  timeoutMs: number,
): { kind: AccessKind; what: string; fix: string } {
  const { cause, code, detail } = networkCause(err)
  const u = new URL(url)
  const hostPort = `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`
  const ca = ctx.caKey ?? 'CLOSEOUT_LOCAL_CA_FILE'
  switch (cause) {
    case 'timeout':
      return {
        kind: 'unreachable',
        what: `no answer within ${timeoutMs} ms`,
        fix: `check the network path from this runner to ${u.host} (firewall, proxy, private endpoint), or raise ${ctx.timeoutKey}`,
      }
    case 'refused':
      return {
        kind: 'unreachable',
        what: `connection refused (${code}): nothing listens at ${hostPort}`,
        fix: `check the host and port in ${ctx.urlKey} and that the service (or its port-forward) is running`,
      }
    case 'dns':
      return {
        kind: 'unreachable',
        what: `the host name ${u.hostname} does not resolve (${code})`,
        fix: `check the host in ${ctx.urlKey} and this runner's DNS (VPN, private DNS zone)`,
      }
    case 'reset':
      return {
        kind: 'unreachable',
        what: `the connection was dropped (${code}: ${detail})`,
        fix: `the server, a proxy or a firewall closed it: check the network path to ${u.host} and rerun`,
      }
    case 'tls-untrusted':
      return {
        kind: 'tls',
        what: `the server certificate is not trusted (${code})`,
        fix: `trust the CA that signed it (${ca}), or check that ${ctx.urlKey} points at the right server`,
      }
    case 'tls-hostname':
      return {
        kind: 'tls',
        what: `the server certificate does not name ${u.hostname} (${code})`,
        fix: `use the host name the certificate was issued for in ${ctx.urlKey}`,
      }
    case 'tls-expired':
      return {
        kind: 'tls',
        what: `the server certificate is expired or not yet valid (${code})`,
        fix: `renew the server certificate, or check this runner's clock`,
      }
    case 'tls-protocol':
      return {
        kind: 'tls',
        what: `the TLS handshake failed (${code}: ${detail})`,
        fix: `the port may speak plain HTTP: check the scheme and port in ${ctx.urlKey}`,
      }
    default:
      return {
        kind: 'unreachable',
        what: `the request failed (${code}: ${detail})`,
        fix: `check ${ctx.urlKey} and the network path from this runner`,
      }
  }
}

/** The AccessError kind and default fix for an access status (401, 403, 404, 429, 5xx); undefined for others. */
export function describeStatus(status: number, ctx: ServiceContext): { kind: AccessKind; fix: string } | undefined {
  const f = ctx.fixes ?? {}
  if (status === 401)
    return {
      kind: 'unauthorized',
      fix:
        f.unauthorized ??
        'the credential was missing, expired or not accepted: sign in again (az login / workload identity) or set a valid token, and rerun',
    }
  if (status === 403)
    return {
      kind: 'forbidden',
      fix: f.forbidden ?? 'the identity signed in but may not read this: grant it read access on the resource and rerun',
    }
  if (status === 404)
    return { kind: 'not-found', fix: f['not-found'] ?? `nothing at this path: check ${ctx.urlKey} and the names in the profile` }
  if (status === 429)
    return {
      kind: 'rate-limited',
      fix: f['rate-limited'] ?? 'the service is throttling this identity and the retry budget is used up: wait a few minutes and rerun',
    }
  if (status >= 500)
    return {
      kind: 'server-error',
      fix: f['server-error'] ?? 'the service failed on its side: check its health (status page) and rerun later',
    }
  return undefined
}

/** The fields an AccessError subclass is built from; message already ends with " — fix". */
export interface AccessInit {
  kind: AccessKind
  where: string
  message: string
  fix: string
  statusCode?: number
  cause?: unknown
  url?: string
  attempts?: Attempt[]
  classification?: AccessError['classification']
}

export type MakeError = (init: AccessInit) => AccessError

const defaultMakeError: MakeError = (init) => new AccessError(init)

// ---------------------------------------------------------------- retry

/** A bounded retry for transient answers (429, 502/503/504, a dropped connection). Profile keys to come:
 * monitoring.retry, consumer.registry.retry, aks.retry = { attempts, baseDelayMs, maxDelayMs }. */
export interface RetryBudget {
  /** total attempts, the first included (1 = no retry) */
  attempts: number
  /** back-off before the second attempt, doubled after each */
  baseDelayMs: number
  /** the longest wait between attempts; a Retry-After beyond it is not waited for */
  maxDelayMs: number
}

export const NO_RETRY: RetryBudget = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 }

/** Defaults per client kind until the profile carries them (kube reads belong to the kube layer). */
export const DEFAULT_RETRY: Record<'monitoring' | 'registry' | 'arm', RetryBudget> = {
  monitoring: { attempts: 3, baseDelayMs: 500, maxDelayMs: 10_000 },
  registry: { attempts: 3, baseDelayMs: 500, maxDelayMs: 10_000 },
  arm: { attempts: 3, baseDelayMs: 1_000, maxDelayMs: 15_000 },
}

/** One attempt as reported: its status or failure, and the wait that followed it. */
export interface Attempt {
  attempt: number
  status?: number
  /** the access kind of a failed attempt (unreachable, rate-limited, …) */
  error?: AccessKind
  /** the ms waited before the next attempt; absent on the last */
  waitMs?: number
  /** the server's Retry-After, as sent */
  retryAfter?: string
}

/** Retry-After (seconds or an HTTP date) in ms, or undefined. */
export function parseRetryAfter(value: string | undefined | null, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000)
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : Math.max(0, t - now)
}

/** What an attempt ended in, as retryTransient sees it. */
export type Outcome<T> =
  | { ok: true; value: T; status?: number }
  | { ok: false; status?: number; transient: boolean; retryAfter?: string; error: AccessError }

/** Run attempts until one is not transient or the budget is spent; every attempt is reported to
 * onAttempt. Only the transport is retried: a value the caller evaluates is returned, never retried. */
export async function retryTransient<T>(
  budget: RetryBudget,
  attempt: (n: number) => Promise<Outcome<T>>,
  onAttempt?: (a: Attempt) => void,
): Promise<{ value: T; attempts: Attempt[] }> {
  const attempts: Attempt[] = []
  for (let n = 1; ; n++) {
    const o = await attempt(n)
    const a: Attempt = {
      attempt: n,
      ...(o.status !== undefined ? { status: o.status } : {}),
      ...(o.ok ? {} : { error: o.error.kind }),
      ...(!o.ok && o.retryAfter ? { retryAfter: o.retryAfter } : {}),
    }
    attempts.push(a)
    if (o.ok) {
      onAttempt?.(a)
      return { value: o.value, attempts }
    }
    const asked = parseRetryAfter(o.retryAfter)
    const wait = asked ?? Math.min(budget.maxDelayMs, budget.baseDelayMs * 2 ** (n - 1))
    if (!o.transient || n >= budget.attempts || wait > budget.maxDelayMs) {
      onAttempt?.(a)
      throw withAttempts(o.error, attempts, budget, asked)
    }
    a.waitMs = wait
    onAttempt?.(a)
    await new Promise((r) => setTimeout(r, wait))
  }
}

/** The final error of a retried call, with every attempt on it and the budget in its message. */
function withAttempts(err: AccessError, attempts: Attempt[], budget: RetryBudget, asked: number | undefined): AccessError {
  const e = err as AccessError & { attempts?: Attempt[] }
  if (attempts.length > 1 || (asked !== undefined && asked > budget.maxDelayMs)) {
    const note =
      asked !== undefined && asked > budget.maxDelayMs
        ? ` (the server asked to retry after ${Math.round(asked / 1000)} s, beyond the retry budget's ${Math.round(budget.maxDelayMs / 1000)} s; attempt ${attempts.length} of ${budget.attempts})`
        : ` (after ${attempts.length} attempts: ${attempts.map((a) => a.status ?? a.error).join(', ')})`
    const i = e.message.indexOf(' — ')
    const message = i < 0 ? e.message + note : e.message.slice(0, i) + note + e.message.slice(i)
    Object.defineProperty(e, 'message', { value: message, configurable: true, writable: true })
  }
  Object.defineProperty(e, 'attempts', { value: attempts, enumerable: true, configurable: true, writable: true })
  return e
}

/** Transient by kind: throttling, a gateway or service that is briefly unavailable, a dropped connection. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504
}

// ---------------------------------------------------------------- the request

export interface TransportRequest {
  url: string
  method?: 'GET' | 'POST' | 'HEAD'
  headers?: Record<string, string>
  body?: string
  timeoutMs: number
  caFile?: string
  /** bytes of body kept; beyond them the read stops and the connection is closed (default 1 MiB) */
  maxBodyBytes?: number
  /** redirects followed (default 0: a 3xx is returned as it came) */
  maxRedirects?: number
  service: ServiceContext
  makeError?: MakeError
  /** CallInfo for the observer */
  call?: { kind: CallInfo['kind']; command?: string; target?: string }
  observer?: CallObserver
  /** retried statuses and dropped connections; default no retry */
  retry?: RetryBudget
  /** statuses that are an AccessError right away (default: none, the caller reads the status) */
  failOn?: (status: number) => boolean
}

export interface TransportResponse {
  /** the URL answered last (after redirects), without secrets */
  url: string
  status: number
  headers: Record<string, string>
  /** the body, at most maxBodyBytes */
  body: Buffer
  text: string
  /** bytes taken off the socket (at most maxBodyBytes plus one chunk) */
  bytesRead: number
  /** the body was longer than maxBodyBytes and was not read to its end */
  truncated: boolean
  /** the redirect chain followed, without secrets; redirectStop says why it stopped early */
  redirects: string[]
  redirectStop?: 'loop' | 'limit'
  durationMs: number
  attempts: Attempt[]
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

const flatHeaders = (h: Record<string, string | string[] | undefined>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]))

/** Read a body up to max bytes; beyond it, close the connection instead of reading on. */
async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(): void },
  max: number,
): Promise<{ body: Buffer; bytesRead: number; truncated: boolean }> {
  const chunks: Buffer[] = []
  let kept = 0
  let bytesRead = 0
  for await (const chunk of body) {
    bytesRead += chunk.length
    const room = max - kept
    if (chunk.length > room) {
      if (room > 0) chunks.push(chunk.subarray(0, room))
      kept = max
      body.destroy()
      return { body: Buffer.concat(chunks), bytesRead, truncated: true }
    }
    chunks.push(chunk)
    kept += chunk.length
  }
  return { body: Buffer.concat(chunks), bytesRead, truncated: false }
}

interface Hop {
  status: number
  headers: Record<string, string>
  body: Buffer
  bytesRead: number
  truncated: boolean
}

/** One exchange with one URL, inside the deadline. */
async function exchange(url: string, o: TransportRequest, method: string, signal: AbortSignal): Promise<Hop> {
  const r = await request(url, { method: method as 'GET', headers: o.headers, body: o.body, dispatcher: agentFor(url, o.caFile), signal })
  const headers = flatHeaders(r.headers)
  if (o.maxRedirects && r.statusCode >= 300 && r.statusCode < 400 && headers.location) {
    await r.body.dump().catch(() => undefined)
    return { status: r.statusCode, headers, body: Buffer.alloc(0), bytesRead: 0, truncated: false }
  }
  const read = await readCapped(r.body as unknown as AsyncIterable<Buffer> & { destroy(): void }, o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)
  return { status: r.statusCode, headers, ...read }
}

/** One attempt: the request and the redirects it is allowed, all inside one deadline. */
async function attemptOnce(o: TransportRequest): Promise<Omit<TransportResponse, 'attempts' | 'durationMs'>> {
  const redirects: string[] = []
  const seen = new Set<string>()
  let url = o.url
  let method = o.method ?? 'GET'
  let headers = o.headers
  let body = o.body
  return withDeadline(o.timeoutMs, async (signal) => {
    for (;;) {
      seen.add(url)
      const hop = await exchange(url, { ...o, headers, body, method: method as 'GET' }, method, signal)
      const location = o.maxRedirects && hop.status >= 300 && hop.status < 400 ? hop.headers.location : undefined
      const done = (redirectStop?: 'loop' | 'limit') => ({
        url: safeUrl(url),
        status: hop.status,
        headers: hop.headers,
        body: hop.body,
        text: hop.body.toString('utf8'),
        bytesRead: hop.bytesRead,
        truncated: hop.truncated,
        redirects,
        ...(redirectStop ? { redirectStop } : {}),
      })
      if (!location) return done()
      const next = new URL(location, url).toString()
      redirects.push(safeUrl(next))
      if (seen.has(next)) return done('loop')
      if (redirects.length > (o.maxRedirects ?? 0)) return done('limit')
      // a credential is for the origin it was given to, never for the one a redirect names
      if (new URL(next).origin !== new URL(url).origin && headers)
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'))
      if (hop.status === 303 || ((hop.status === 301 || hop.status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
      }
      url = next
    }
  })
}

/** The AccessError of a failed exchange (network cause) or of an access status. */
export function accessErrorOf(
  o: Pick<TransportRequest, 'url' | 'method' | 'service' | 'makeError' | 'timeoutMs'>,
  failure: { err?: unknown; status?: number; body?: string },
): AccessError {
  const make = o.makeError ?? defaultMakeError
  const line = `${o.method ?? 'GET'} ${safeUrl(o.url)}`
  const classification = o.service.classification
  if (failure.status !== undefined) {
    const d = describeStatus(failure.status, o.service) ?? {
      kind: 'server-error' as const,
      fix: `the service answered ${failure.status}, which closeout does not expect here: check ${o.service.urlKey}`,
    }
    const said = failure.body ? ` (${bodyHint(failure.body)})` : ''
    return make({
      kind: d.kind,
      where: o.service.where,
      url: o.url,
      statusCode: failure.status,
      classification,
      message: `${o.service.where}: ${line} answered ${failure.status}${said} — ${d.fix}`,
      fix: d.fix,
    })
  }
  const d = describeNetworkError(failure.err, o.url, o.service, o.timeoutMs)
  return make({
    kind: d.kind,
    where: o.service.where,
    url: o.url,
    classification,
    cause: failure.err,
    message: `${o.service.where}: ${line}: ${d.what} — ${d.fix}`,
    fix: d.fix,
  })
}

/** The service's own words from an error body (OneAPI/ARM error, registry errors[], Prometheus error), one line. */
export function bodyHint(body: string): string {
  try {
    const j = JSON.parse(body) as {
      error?: unknown
      errors?: { code?: string; message?: string }[]
      message?: string
      error_description?: string
    }
    const e = j.error
    if (e && typeof e === 'object') {
      const o = e as { code?: string; message?: string }
      return `${o.code ?? ''}${o.message ? `: ${o.message}` : ''}`.slice(0, 200)
    }
    if (j.errors?.[0]) return `${j.errors[0].code ?? ''} ${j.errors[0].message ?? ''}`.trim().slice(0, 200)
    if (typeof e === 'string') return `${e}${j.error_description ? ` ${j.error_description}` : ''}`.slice(0, 200)
    if (j.message) return String(j.message).slice(0, 200)
  } catch {
    /* not JSON */
  }
  const t = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return t.length > 120 ? `${t.slice(0, 120)}…` : t
}

/** The one request helper: deadline, CA, capped body, redirects when asked, error mapping, retry of
 * transient answers, every attempt reported. A status is returned for the caller to judge unless
 * failOn claims it; network failures are thrown as the client's AccessError. */
export async function send(o: TransportRequest): Promise<TransportResponse> {
  const t0 = performance.now()
  const call = o.call ?? { kind: 'http' as const }
  const command = call.command ?? `${o.method ?? 'GET'} ${safeUrl(o.url)}`
  const report = (a: Attempt) =>
    o.observer?.({
      kind: call.kind,
      command,
      target: `${call.target ?? o.service.where}${a.attempt > 1 || a.waitMs ? ` (attempt ${a.attempt})` : ''}`,
      ...(a.status !== undefined ? { status: a.status } : {}),
    })
  const retry = o.retry ?? NO_RETRY
  const { value, attempts } = await retryTransient<Omit<TransportResponse, 'attempts' | 'durationMs'>>(
    retry,
    async () => {
      let r: Omit<TransportResponse, 'attempts' | 'durationMs'>
      try {
        r = await attemptOnce(o)
      } catch (err) {
        if (err instanceof AccessError) return { ok: false, transient: false, error: err }
        const error = accessErrorOf(o, { err })
        return { ok: false, transient: networkCause(err).cause === 'reset', error }
      }
      if (isTransientStatus(r.status) && retry.attempts > 1)
        return {
          ok: false,
          status: r.status,
          transient: true,
          retryAfter: r.headers['retry-after'],
          error: accessErrorOf(o, { status: r.status, body: r.text }),
        }
      if (o.failOn?.(r.status))
        return { ok: false, status: r.status, transient: false, error: accessErrorOf(o, { status: r.status, body: r.text }) }
      return { ok: true, value: r, status: r.status }
    },
    report,
  )
  return { ...value, attempts, durationMs: Math.round(performance.now() - t0) }
}
