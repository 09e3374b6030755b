// monitor: the F3-4 lag/freshness queries. Primary path Azure Monitor (Log Analytics KQL through the
// real @azure/monitor-query-logs client, DefaultAzureCredential); alternative PromQL over Prometheus's
// HTTP API. Failures are MonitorError with a kind the harness classifies MONITORING_ACCESS_BLOCKED.
import { LogsQueryClient, LogsQueryResultStatus, type LogsTable } from '@azure/monitor-query-logs'
import { DefaultAzureCredential } from '@azure/identity'
import type { TokenCredential } from '@azure/identity'
import { request, Agent } from 'undici'
import { Agent as HttpsAgent } from 'node:https'
import { rootCertificates } from 'node:tls'
import { readFileSync } from 'node:fs'

export type MonitorErrorKind = 'unauthorized' | 'forbidden' | 'unreachable' | 'missing-table' | 'bad-query' | 'timeout'

export class MonitorError extends Error {
  readonly monitor = true
  readonly kind: MonitorErrorKind
  readonly statusCode?: number
  readonly code?: string
  constructor(kind: MonitorErrorKind, message: string, statusCode?: number, code?: string) {
    super(message)
    this.name = 'MonitorError'
    this.kind = kind
    this.statusCode = statusCode
    this.code = code
  }
}

export interface MonitorResult {
  /** what was asked: the query URL (and the workspace for Log Analytics), the query and its time range */
  request: { kind: 'azure-monitor' | 'prometheus'; url: string; workspace?: string; target: string; query: string; timespan: string }
  rows: Array<Record<string, unknown>>
  columns: string[]
  durationMs: number
  status: number | string
  partialError?: string
}

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new MonitorError('timeout', `${what}: no answer within ${ms} ms`)), ms)
    }),
  ])
}

/** Log Analytics time range: an absolute window, or an ISO 8601 duration ending now ('PT30M'). */
export type MonitorTimespan = { startTime: Date; endTime: Date } | { duration: string }

const describeTimespan = (t: MonitorTimespan) => ('duration' in t ? t.duration : `${t.startTime.toISOString()}/${t.endTime.toISOString()}`)

let caAgentCache: { file: string; agent: HttpsAgent } | undefined

/** An https.Agent trusting the public roots plus a private CA (the caFile option, else
 * CLOSEOUT_LOCAL_CA_FILE), for https endpoints; per client, so NODE_EXTRA_CA_CERTS is not needed. */
function caAgent(endpoint: string | undefined, caFile?: string): HttpsAgent | undefined {
  const file = caFile ?? process.env.CLOSEOUT_LOCAL_CA_FILE
  if (!file || !endpoint?.startsWith('https:')) return undefined
  if (caAgentCache?.file !== file) caAgentCache = { file, agent: new HttpsAgent({ ca: [...rootCertificates, readFileSync(file, 'utf8')], keepAlive: false }) }
  return caAgentCache.agent
}

function tableRows(t: LogsTable): Array<Record<string, unknown>> {
  return t.rows.map((r) => Object.fromEntries(t.columnDescriptors.map((c, i) => [c.name ?? `col${i}`, r[i] instanceof Date ? (r[i] as Date).toISOString() : r[i]])))
}

export async function queryAzureMonitor(o: {
  workspaceId: string
  endpoint?: string
  query: string
  timespan: MonitorTimespan
  credential: 'default' | { token: string }
  timeoutMs: number
  /** PEM file of a private CA to trust for this call (default: CLOSEOUT_LOCAL_CA_FILE when set) */
  caFile?: string
}): Promise<MonitorResult> {
  const cred: TokenCredential =
    o.credential === 'default' ? new DefaultAzureCredential() : { getToken: async () => ({ token: (o.credential as { token: string }).token, expiresOnTimestamp: Date.now() + 3_600_000 }) }
  const agent = caAgent(o.endpoint, o.caFile)
  // the SDK drops a top-level abortSignal (facts §6): the deadline goes on each request, so a hung
  // socket is closed rather than left behind the Promise.race below
  const signal = AbortSignal.timeout(o.timeoutMs)
  const client = new LogsQueryClient(cred, {
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    retryOptions: { maxRetries: 0 },
    // an https endpoint served with the local environment's CA: trust it for this client only
    additionalPolicies: [
      {
        position: 'perCall' as const,
        policy: {
          name: 'closeoutRequest',
          sendRequest: (req, next) => {
            // an https endpoint served with a private CA: trust it for this client only
            if (agent) req.agent = agent
            req.abortSignal = signal
            return next(req)
          },
        },
      },
    ],
  })
  const where = `Log Analytics workspace ${o.workspaceId} (${o.endpoint ?? 'https://api.loganalytics.io/v1'})`
  const t0 = performance.now()
  try {
    const ts = 'duration' in o.timespan ? { duration: o.timespan.duration } : { startTime: o.timespan.startTime, endTime: o.timespan.endTime }
    const r = await deadline(client.queryWorkspace(o.workspaceId, o.query, ts, { serverTimeoutInSeconds: Math.max(1, Math.ceil(o.timeoutMs / 1000)) }), o.timeoutMs, where)
    const tables = r.status === LogsQueryResultStatus.Success ? r.tables : r.partialTables
    const t = tables[0]
    return {
      request: { kind: 'azure-monitor', url: `${o.endpoint ?? 'https://api.loganalytics.io/v1'}/workspaces/${o.workspaceId}/query`, workspace: o.workspaceId, target: where, query: o.query, timespan: describeTimespan(o.timespan) },
      rows: t ? tableRows(t) : [],
      columns: t ? t.columnDescriptors.map((c) => c.name ?? '') : [],
      durationMs: Math.round(performance.now() - t0),
      status: r.status,
      ...(r.status !== LogsQueryResultStatus.Success ? { partialError: `${r.partialError.code}: ${r.partialError.message}` } : {}),
    }
  } catch (err) {
    if (err instanceof MonitorError) throw err
    const e = err as { statusCode?: number; code?: string; message?: string; name?: string }
    const msg = (e.message ?? String(err)).split('\n')[0]
    if (e.name === 'AbortError' || e.name === 'TimeoutError' || signal.aborted) throw new MonitorError('timeout', `${where}: no answer within ${o.timeoutMs} ms — check the endpoint or raise monitoring.timeoutMs`, undefined, e.code)
    if (e.statusCode === 401) throw new MonitorError('unauthorized', `${where}: 401 ${e.code ?? ''} — the credential was not accepted; sign in (az login / workload identity) and rerun`, 401, e.code)
    if (e.statusCode === 403) throw new MonitorError('forbidden', `${where}: 403 ${e.code ?? ''} — the identity lacks read access (Log Analytics Reader on the workspace)`, 403, e.code)
    if (e.statusCode === 400 && /resolve table|could not be resolved|Failed to resolve/i.test(msg)) throw new MonitorError('missing-table', `${where}: the AppMetrics table is not available (${msg})`, 400, e.code)
    if (e.statusCode === 400) throw new MonitorError('bad-query', `${where}: the query was rejected (${e.code ?? 400}: ${msg})`, 400, e.code)
    if (e.statusCode === 404) throw new MonitorError('missing-table', `${where}: not found (${e.code ?? 404}: ${msg}) — check monitoring.azureMonitor.workspaceId`, 404, e.code)
    if (e.statusCode && e.statusCode >= 500) throw new MonitorError('unreachable', `${where}: the service answered ${e.statusCode} (${e.code ?? ''} ${msg}); retry later or check the Azure status page`, e.statusCode, e.code)
    if (e.statusCode) throw new MonitorError('bad-query', `${where}: unexpected ${e.statusCode} (${e.code ?? ''} ${msg})`, e.statusCode, e.code)
    if (/CredentialUnavailable|AuthenticationRequired|authenticate/i.test(`${e.name} ${msg}`)) throw new MonitorError('unauthorized', `${where}: no Azure credential available (${msg}); run az login or configure workload identity`, undefined, e.code)
    throw new MonitorError('unreachable', `${where}: ${e.code ?? 'request failed'}: ${msg} — check the endpoint, the network path and (for a private CA) CLOSEOUT_LOCAL_CA_FILE`, undefined, e.code)
  }
}

const agent = new Agent({ connectTimeout: 5000, keepAliveTimeout: 10, keepAliveMaxTimeout: 10, allowH2: false })

export async function queryPrometheus(o: { url: string; query: string; start: Date; end: Date; stepSeconds: number; bearerToken?: string; timeoutMs: number }): Promise<MonitorResult> {
  const u = new URL('/api/v1/query_range', o.url)
  u.searchParams.set('query', o.query)
  u.searchParams.set('start', String(o.start.getTime() / 1000))
  u.searchParams.set('end', String(o.end.getTime() / 1000))
  u.searchParams.set('step', String(o.stepSeconds))
  const where = `Prometheus ${o.url}`
  const t0 = performance.now()
  let status: number
  let body: string
  try {
    const r = await request(u, { dispatcher: agent, headers: o.bearerToken ? { authorization: `Bearer ${o.bearerToken}` } : {}, signal: AbortSignal.timeout(o.timeoutMs) })
    status = r.statusCode
    body = await r.body.text()
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } }
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new MonitorError('timeout', `${where}: no answer within ${o.timeoutMs} ms — check the endpoint or raise monitoring.timeoutMs`)
    throw new MonitorError('unreachable', `${where}: ${e.code ?? e.cause?.code ?? 'request failed'}: ${(e.message ?? '').split('\n')[0]} — check monitoring.prometheus.url and the network path`, undefined, e.code ?? e.cause?.code)
  }
  if (status === 401) throw new MonitorError('unauthorized', `${where}: 401 — the bearer token was missing or not accepted; set monitoring.prometheus.bearerToken (a fresh token)`, 401)
  if (status === 403) throw new MonitorError('forbidden', `${where}: 403 — the identity may not query this Prometheus; grant it read access (e.g. Monitoring Data Reader)`, 403)
  let j: { status?: string; error?: string; errorType?: string; data?: { result?: { metric: Record<string, string>; values: [number, string][] }[] } }
  try {
    j = JSON.parse(body)
  } catch {
    throw new MonitorError(status >= 500 ? 'unreachable' : 'bad-query', `${where}: ${status} with a non-JSON body — is the URL a Prometheus HTTP API?`, status)
  }
  if (status === 400 || status === 422 || j.errorType === 'bad_data') throw new MonitorError('bad-query', `${where}: the query was rejected (${j.error ?? status}); check the PromQL`, status, j.errorType)
  if (status >= 500) throw new MonitorError('unreachable', `${where}: the server answered ${status} (${j.error ?? ''}); retry later`, status, j.errorType)
  if (status >= 300 || j.status !== 'success') throw new MonitorError('bad-query', `${where}: ${status} ${j.errorType ?? ''} ${j.error ?? ''}`, status, j.errorType)
  const rows: Array<Record<string, unknown>> = []
  for (const series of j.data?.result ?? []) {
    for (const [t, v] of series.values) rows.push({ TimeGenerated: new Date(t * 1000).toISOString(), ...series.metric, value: Number(v) })
  }
  return {
    request: { kind: 'prometheus', url: u.origin + u.pathname, target: where, query: o.query, timespan: `${o.start.toISOString()}/${o.end.toISOString()} step ${o.stepSeconds}s` },
    rows,
    columns: ['TimeGenerated', 'value'],
    durationMs: Math.round(performance.now() - t0),
    status,
  }
}
