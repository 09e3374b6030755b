// api: HTTP requests to the service under test, through a port-forward from the runner (default)
// or a direct in-cluster URL. Every request has a deadline; status, headers, body sha256, length
// and a capped excerpt go to evidence.
import { request, Agent } from 'undici'
import { createHash } from 'node:crypto'
import { isoNow, type GateEvidence } from './evidence.ts'

export interface HttpResult {
  url: string
  method: string
  status: number
  headers: Record<string, string>
  body: string
  bodySha256: string
  bodyLength: number
  durationMs: number
  json: unknown
}

export class HttpAccessError extends Error {
  readonly url: string
  readonly code: string
  constructor(url: string, code: string, message: string) {
    super(message)
    this.name = 'HttpAccessError'
    this.url = url
    this.code = code
  }
}

const agent = new Agent({ connectTimeout: 5_000, keepAliveTimeout: 10, keepAliveMaxTimeout: 10, allowH2: false })

/** One request with a deadline; network failures throw HttpAccessError naming the URL. */
export async function httpRequest(url: string, opts: { method?: string; timeoutMs: number; headers?: Record<string, string> }): Promise<HttpResult> {
  const method = opts.method ?? 'GET'
  const t0 = performance.now()
  try {
    const res = await request(url, { method: method as 'GET', headers: opts.headers, dispatcher: agent, signal: AbortSignal.timeout(opts.timeoutMs) })
    const body = await res.body.text()
    const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]))
    let json: unknown = undefined
    if (/json/.test(headers['content-type'] ?? '') || /^\s*[{[]/.test(body)) {
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
    }
    return {
      url,
      method,
      status: res.statusCode,
      headers,
      body,
      bodySha256: createHash('sha256').update(body, 'utf8').digest('hex'),
      bodyLength: Buffer.byteLength(body, 'utf8'),
      durationMs: Math.round(performance.now() - t0),
      json,
    }
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } }
    const code = e.name === 'TimeoutError' ? 'TIMEOUT' : (e.code ?? e.cause?.code ?? e.name ?? 'ERROR')
    const what = code === 'TIMEOUT' ? `no answer within ${opts.timeoutMs} ms` : `${code}: ${e.message ?? String(err)}`
    throw new HttpAccessError(url, code, `${method} ${url} failed (${what})`)
  }
}

export interface ApiClientOptions {
  /** resolves the base URL (opens the port-forward on first use) */
  baseUrl: () => Promise<string>
  /** how the request reaches the service, for the evidence "target" field */
  via: string
  timeoutMs: number
}

/** The `api` fixture: requests recorded as evidence steps. */
export class ApiClient {
  private readonly opts: ApiClientOptions
  private readonly evidence: GateEvidence
  constructor(opts: ApiClientOptions, evidence: GateEvidence) {
    this.opts = opts
    this.evidence = evidence
  }

  async get(step: string, path: string, opts: { expectStatus?: number } = {}): Promise<HttpResult> {
    const base = await this.opts.baseUrl()
    const url = new URL(path, base).toString()
    const startedAt = isoNow()
    const step0 = { step, kind: 'http' as const, command: `GET ${path}`, target: `${url} (${this.opts.via})`, startedAt }
    let r: HttpResult
    try {
      r = await httpRequest(url, { timeoutMs: this.opts.timeoutMs })
    } catch (err) {
      await this.evidence.record({ ...step0, finishedAt: isoNow(), durationMs: Date.now() - Date.parse(startedAt), exitCode: null, result: 'fail', stderr: (err as Error).message })
      throw err
    }
    const expected = opts.expectStatus === undefined || r.status === opts.expectStatus
    await this.evidence.record({
      ...step0,
      finishedAt: isoNow(),
      durationMs: r.durationMs,
      httpStatus: r.status,
      // like the runbook's check: exit 0 when the status is the expected one, 1 otherwise
      exitCode: expected ? 0 : 1,
      result: opts.expectStatus === undefined ? 'info' : expected ? 'pass' : 'fail',
      body: r.body,
      details: {
        HTTP_CODE: String(r.status),
        BODY_SHA256: r.bodySha256,
        BODY_LEN: String(r.bodyLength),
        content_type: r.headers['content-type'] ?? '',
        ...(opts.expectStatus !== undefined ? { expected_status: String(opts.expectStatus) } : {}),
      },
    })
    return r
  }
}
