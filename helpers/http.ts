// api: HTTP requests to the service under test, through a port-forward from the runner (default)
// or a direct in-cluster URL, on helpers/transport.ts (deadline, CA, capped body, error mapping).
// Status, headers, body sha256, length and a capped excerpt go to evidence.
//
// Which failure is whose (the smoke gates' rule):
// - the API could not be reached (refused, DNS, reset, timeout, TLS): HttpAccessError, an AccessError:
//   nothing was checked → ENVIRONMENT_BLOCKED.
// - the API answered, wrongly (any status, a body over maxBodyBytes, a redirect loop or chain too
//   long, non-JSON where JSON is expected): the gate's own failure (SMOKE_FAILED for the smoke gates,
//   IDEMPOTENCY_FAILED for idempotency) — HttpResponseError, a GateFailure without a class of its own.
import { AccessError, type CallObserver } from './access.ts'
import { parseWithTwin, sha256Hex } from './canonical.ts'
import { fixOf, GateFailure } from './classification.ts'
import { type GateEvidence, isoNow } from './evidence.ts'
import { type AccessInit, DEFAULT_MAX_BODY_BYTES, type ServiceContext, safeUrl, send, type TransportResponse } from './transport.ts'

export interface HttpResult {
  url: string
  method: string
  status: number
  headers: Record<string, string>
  /** the body text, at most maxBodyBytes */
  body: string
  /** sha256 of the body bytes read (the whole body unless truncated) */
  bodySha256: string
  /** bytes of body kept (the whole body unless truncated) */
  bodyLength: number
  durationMs: number
  /** the parsed body when it is JSON (plain values; canonical.ts reads the lossless twin) */
  json: unknown
  /** the body was longer than maxBodyBytes: reading stopped and the connection was closed */
  truncated: boolean
  /** bytes taken off the socket */
  bytesRead: number
  /** redirects followed (URLs without secrets) and why following stopped early */
  redirects: string[]
  redirectStop?: 'loop' | 'limit'
}

/** The API could not be reached: could not check (ENVIRONMENT_BLOCKED). */
export class HttpAccessError extends AccessError {
  /** the URL asked, without secrets */
  readonly url: string
  /** the network cause's code (ECONNREFUSED, ENOTFOUND, TIMEOUT, …) */
  readonly code: string
  constructor(init: AccessInit & { code?: string })
  constructor(url: string, code: string, message: string)
  constructor(urlOrInit: string | (AccessInit & { code?: string }), code?: string, message?: string) {
    const init: AccessInit & { code?: string } =
      typeof urlOrInit === 'string'
        ? { kind: 'unreachable', where: urlOrInit, url: urlOrInit, message: message ?? '', fix: fixOf(message ?? ''), code }
        : urlOrInit
    super(init)
    this.name = 'HttpAccessError'
    this.url = safeUrl(init.url ?? init.where)
    this.code =
      init.code ?? (init.cause as { code?: string } | undefined)?.code ?? (/no answer within/.test(init.message) ? 'TIMEOUT' : init.kind)
  }
}

/** The API answered, but not as an HTTP API should: the gate's own failure (its classification). */
export class HttpResponseError extends GateFailure {
  readonly url: string
  readonly status: number
  constructor(url: string, status: number, message: string) {
    super(message)
    this.name = 'HttpResponseError'
    this.url = url
    this.status = status
  }
}

export interface HttpRequestOptions {
  method?: string
  timeoutMs: number
  headers?: Record<string, string>
  /** PEM file of a private CA (default CLOSEOUT_LOCAL_CA_FILE, else the system store) */
  caFile?: string
  /** body bytes read at most (default 1 MiB); beyond, the read stops: truncated */
  maxBodyBytes?: number
  /** redirects followed (default 0: a 3xx is the answer, as curl without -L sees it) */
  maxRedirects?: number
  observer?: CallObserver
  /** for messages and the observer: how the request reaches the service */
  via?: string
  /** what is asked, for messages (default "the API") */
  name?: string
}

function apiContext(url: string, via?: string, name = 'the API'): ServiceContext {
  const u = new URL(url)
  return {
    where: `${name} at ${u.origin}${via ? ` (${via})` : ''}`,
    urlKey: via?.startsWith('port-forward') ? 'api.service / api.port (the port-forward)' : 'api.baseUrl',
    timeoutKey: 'api.timeoutMs',
  }
}

function resultOf(r: TransportResponse, method: string): HttpResult {
  let json: unknown
  if (!r.truncated && (/json/.test(r.headers['content-type'] ?? '') || /^\s*[{[]/.test(r.text))) {
    try {
      json = parseWithTwin(r.text)
    } catch {
      json = undefined
    }
  }
  return {
    url: r.url,
    method,
    status: r.status,
    headers: r.headers,
    body: r.text,
    bodySha256: sha256Hex(r.body),
    bodyLength: r.body.length,
    durationMs: r.durationMs,
    json,
    truncated: r.truncated,
    bytesRead: r.bytesRead,
    redirects: r.redirects,
    ...(r.redirectStop ? { redirectStop: r.redirectStop } : {}),
  }
}

/** One request with a deadline; failures to reach the API throw HttpAccessError naming the URL and the fix. */
export async function httpRequest(url: string, opts: HttpRequestOptions): Promise<HttpResult> {
  const method = (opts.method ?? 'GET').toUpperCase()
  const r = await send({
    url,
    method: method as 'GET',
    timeoutMs: opts.timeoutMs,
    headers: opts.headers,
    caFile: opts.caFile,
    maxBodyBytes: opts.maxBodyBytes,
    maxRedirects: opts.maxRedirects,
    service: apiContext(url, opts.via, opts.name),
    makeError: (init) => new HttpAccessError(init),
    call: { kind: 'http', target: `${safeUrl(url)}${opts.via ? ` (${opts.via})` : ''}` },
    observer: opts.observer,
  })
  return resultOf(r, method)
}

/** Why an answer is not one the gate can judge, or undefined when it is. */
export function answerProblem(r: HttpResult, expectJson: boolean, maxBodyBytes: number): string | undefined {
  const line = `${r.method} ${r.url}`
  if (r.redirectStop === 'loop')
    return `${line} redirects in a loop (${r.redirects.join(' → ')}): the API (or a proxy in front of it) answers with a redirect instead of the resource`
  if (r.redirectStop === 'limit')
    return `${line} redirected more than ${r.redirects.length - 1} times (${r.redirects.join(' → ')}): the API (or a proxy in front of it) answers with redirects instead of the resource`
  if (r.truncated)
    return `${line} answered ${r.status} with a body over ${maxBodyBytes} bytes (read ${r.bytesRead}, then stopped): not the small JSON document the runbook expects; check what serves this path`
  if (expectJson && r.json === undefined) {
    const type = r.headers['content-type'] || 'no content type'
    const start = r.body.replace(/\s+/g, ' ').trim().slice(0, 80)
    return `${line} answered ${r.status} with ${type}, not JSON (body starts "${start}"): the API (or a proxy / login page in front of it) answered wrongly`
  }
  return undefined
}

export interface ApiClientOptions {
  /** resolves the base URL (opens the port-forward on first use) */
  baseUrl: () => Promise<string>
  /** how the request reaches the service, for the evidence "target" field */
  via: string
  timeoutMs: number
  /** reports every call (the request line, the target, the status) */
  observer?: CallObserver
  /** body bytes read at most (default 1 MiB; profile key to come: api.maxBodyBytes) */
  maxBodyBytes?: number
  /** redirects followed (default 5, as the runbook's requests.get follows them; a loop stops) */
  maxRedirects?: number
  caFile?: string
}

/** The `api` fixture: requests recorded as evidence steps (when given evidence) and to the observer. */
export class ApiClient {
  private readonly opts: ApiClientOptions
  private readonly evidence: GateEvidence | undefined
  constructor(opts: ApiClientOptions, evidence?: GateEvidence) {
    this.opts = opts
    this.evidence = evidence
  }

  /** GET a path; throws HttpAccessError when the API cannot be reached, HttpResponseError when its
   * answer cannot be judged (redirect loop, oversized body, non-JSON with expectJson). */
  async get(
    step: string,
    path: string,
    opts: { expectStatus?: number; expectJson?: boolean; observer?: CallObserver } = {},
  ): Promise<HttpResult> {
    const base = await this.opts.baseUrl()
    const url = new URL(path, base).toString()
    const startedAt = isoNow()
    const step0 = { step, kind: 'http' as const, command: `GET ${path}`, target: `${safeUrl(url)} (${this.opts.via})`, startedAt }
    const observer = opts.observer ?? this.opts.observer
    const maxBodyBytes = this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
    let r: HttpResult
    try {
      r = await httpRequest(url, {
        timeoutMs: this.opts.timeoutMs,
        observer,
        maxBodyBytes,
        maxRedirects: this.opts.maxRedirects ?? 5,
        caFile: this.opts.caFile,
        via: this.opts.via,
      })
    } catch (err) {
      await this.evidence?.record({
        ...step0,
        finishedAt: isoNow(),
        durationMs: Date.now() - Date.parse(startedAt),
        exitCode: null,
        result: 'fail',
        stderr: (err as Error).message,
      })
      throw err
    }
    const problem = answerProblem(r, opts.expectJson ?? false, maxBodyBytes)
    const expected = !problem && (opts.expectStatus === undefined || r.status === opts.expectStatus)
    await this.evidence?.record({
      ...step0,
      finishedAt: isoNow(),
      durationMs: r.durationMs,
      httpStatus: r.status,
      // like the runbook's check: exit 0 when the status is the expected one, 1 otherwise
      exitCode: expected ? 0 : 1,
      result: problem ? 'fail' : opts.expectStatus === undefined ? 'info' : expected ? 'pass' : 'fail',
      body: r.body,
      ...(problem ? { stderr: problem } : {}),
      details: {
        HTTP_CODE: String(r.status),
        BODY_SHA256: r.bodySha256,
        BODY_LEN: String(r.bodyLength),
        content_type: r.headers['content-type'] ?? '',
        ...(opts.expectStatus !== undefined ? { expected_status: String(opts.expectStatus) } : {}),
        ...(r.truncated ? { body_truncated: `true (read ${r.bytesRead} bytes, kept ${r.bodyLength})` } : {}),
        ...(r.redirects.length ? { redirects: r.redirects.join(' → ') } : {}),
      },
    })
    if (problem) throw new HttpResponseError(r.url, r.status, problem)
    return r
  }
}
