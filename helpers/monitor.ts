// monitor: the F3-4 lag/freshness queries. Primary path Azure Monitor (Log Analytics KQL through the
// real @azure/monitor-query-logs client, DefaultAzureCredential); alternative PromQL over Prometheus's
// HTTP API (helpers/transport.ts). Both share the transport's CA, deadline and retry budget for
// transient answers (429 with Retry-After, 503, a dropped connection); every attempt is reported.
// Failures are MonitorError, an AccessError classified MONITORING_ACCESS_BLOCKED. A partial result
// or malformed rows are "could not check" too: rows that may be incomplete never decide a gate.

import type { TokenCredential } from '@azure/identity'
import { DefaultAzureCredential } from '@azure/identity'
import { LogsQueryClient, LogsQueryResultStatus, type LogsTable } from '@azure/monitor-query-logs'
import { AccessError, type AccessKind, type CallObserver } from './access.ts'
import { fixOf } from './classification.ts'
import {
  type AccessInit,
  type Attempt,
  accessErrorOf,
  DEFAULT_RETRY,
  describeNetworkError,
  describeStatus,
  httpsAgentFor,
  isTransientStatus,
  type Outcome,
  type RetryBudget,
  retryTransient,
  type ServiceContext,
  safeUrl,
  send,
  withDeadline,
} from './transport.ts'

/** The monitoring-specific detail of a failure (MonitorError.kind is the shared AccessKind). */
export type MonitorErrorKind =
  | 'unauthorized'
  | 'forbidden'
  | 'unreachable'
  | 'missing-table'
  | 'bad-query'
  | 'timeout'
  | 'tls'
  | 'rate-limited'
  | 'server-error'
  | 'partial'
  | 'malformed'

const ACCESS_KIND: Record<MonitorErrorKind, AccessKind> = {
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  unreachable: 'unreachable',
  timeout: 'unreachable',
  tls: 'tls',
  'missing-table': 'not-found',
  'bad-query': 'config',
  'rate-limited': 'rate-limited',
  'server-error': 'server-error',
  partial: 'server-error',
  malformed: 'server-error',
}

export class MonitorError extends AccessError {
  /** the monitoring detail: missing-table, bad-query, partial, malformed, timeout, … */
  readonly monitorKind: MonitorErrorKind
  /** the service's error code (InsufficientAccessError, bad_data, …) */
  readonly code?: string
  readonly attempts?: Attempt[]
  constructor(init: AccessInit & { monitorKind?: MonitorErrorKind; code?: string })
  constructor(kind: MonitorErrorKind, message: string, statusCode?: number, code?: string)
  constructor(
    kindOrInit: MonitorErrorKind | (AccessInit & { monitorKind?: MonitorErrorKind; code?: string }),
    message?: string,
    statusCode?: number,
    code?: string,
  ) {
    const init =
      typeof kindOrInit === 'string'
        ? {
            kind: ACCESS_KIND[kindOrInit],
            monitorKind: kindOrInit,
            where: '',
            message: message ?? '',
            fix: fixOf(message ?? ''),
            statusCode,
            code,
          }
        : kindOrInit
    super({ ...init, classification: 'MONITORING_ACCESS_BLOCKED' })
    this.name = 'MonitorError'
    this.monitorKind = init.monitorKind ?? (init.kind as MonitorErrorKind)
    this.code = init.code
    if (init.attempts) this.attempts = init.attempts
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
  /** every attempt; more than one when a transient answer was retried */
  attempts: Attempt[]
}

/** Log Analytics time range: an absolute window, or an ISO 8601 duration ending now ('PT30M'). */
export type MonitorTimespan = { startTime: Date; endTime: Date } | { duration: string }

const describeTimespan = (t: MonitorTimespan) => ('duration' in t ? t.duration : `${t.startTime.toISOString()}/${t.endTime.toISOString()}`)

const DEFAULT_LA_ENDPOINT = 'https://api.loganalytics.io/v1'

function tableRows(t: LogsTable): Array<Record<string, unknown>> {
  return t.rows.map((r) =>
    Object.fromEntries(
      t.columnDescriptors.map((c, i) => [c.name ?? `col${i}`, r[i] instanceof Date ? (r[i] as Date).toISOString() : r[i]]),
    ),
  )
}

export interface AzureMonitorQuery {
  workspaceId: string
  endpoint?: string
  query: string
  timespan: MonitorTimespan
  credential: 'default' | { token: string }
  timeoutMs: number
  /** PEM file of a private CA to trust for this call (default: CLOSEOUT_LOCAL_CA_FILE when set) */
  caFile?: string
  /** each attempt as it completes: the KQL, the workspace and time range, the status */
  observer?: CallObserver
  /** the retry budget for transient answers (default DEFAULT_RETRY.monitoring) */
  retry?: RetryBudget
  /** return a PartialFailure's rows (with partialError) instead of failing; default false: rows that
   * may be incomplete cannot show a freshness SLO is met */
  allowPartial?: boolean
}

function azureContext(o: AzureMonitorQuery, where: string): ServiceContext {
  return {
    where,
    urlKey: 'monitoring.azureMonitor.endpoint',
    timeoutKey: 'monitoring.timeoutMs',
    classification: 'MONITORING_ACCESS_BLOCKED',
    fixes: {
      unauthorized: 'the credential was not accepted; sign in (az login / workload identity) and rerun',
      forbidden: 'the identity lacks read access; grant it Log Analytics Reader on the workspace and rerun',
      'not-found': 'check monitoring.azureMonitor.workspaceId and monitoring.azureMonitor.endpoint',
      'rate-limited': 'Log Analytics is throttling this identity and the retry budget is used up; wait a few minutes and rerun',
      'server-error': 'Log Analytics failed on its side; check the Azure status page and rerun later',
    },
  }
}

/** The SDK client for one query: our CA's agent and the current attempt's deadline on each request
 * (the SDK drops a top-level abortSignal, facts §6), its own retry off (retryTransient does it). */
function logsClient(o: AzureMonitorQuery, current: { signal?: AbortSignal }): LogsQueryClient {
  const cred: TokenCredential =
    o.credential === 'default'
      ? new DefaultAzureCredential()
      : { getToken: async () => ({ token: (o.credential as { token: string }).token, expiresOnTimestamp: Date.now() + 3_600_000 }) }
  const agent = httpsAgentFor(o.endpoint ?? DEFAULT_LA_ENDPOINT, o.caFile)
  return new LogsQueryClient(cred, {
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      {
        position: 'perCall' as const,
        policy: {
          name: 'closeoutRequest',
          sendRequest: (req, next) => {
            if (agent) req.agent = agent
            if (current.signal) req.abortSignal = current.signal
            return next(req)
          },
        },
      },
    ],
  })
}

type SdkError = {
  name?: string
  statusCode?: number
  code?: string
  message?: string
  response?: { headers?: { get?(n: string): string | undefined } }
}

/** The one place the Azure SDK's RestError (and its credential errors) become AccessError. */
export function mapAzureError(err: unknown, o: Pick<AzureMonitorQuery, 'timeoutMs'>, ctx: ServiceContext, url: string): MonitorError {
  if (err instanceof MonitorError) return err
  const e = err as SdkError
  const msg = (e?.message ?? String(err)).split('\n')[0]
  const line = `POST ${safeUrl(url)}`
  const make = (monitorKind: MonitorErrorKind, what: string, fix: string, statusCode?: number) =>
    new MonitorError({
      kind: ACCESS_KIND[monitorKind],
      monitorKind,
      where: ctx.where,
      url,
      statusCode,
      code: e?.code,
      cause: err,
      message: `${ctx.where}: ${line}${statusCode ? ` answered ${statusCode}` : ''}: ${what} — ${fix}`,
      fix,
    })
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined
  if (status === 400 && /resolve table|could not be resolved|Failed to resolve/i.test(msg))
    return make(
      'missing-table',
      `the AppMetrics table is not available (${e.code ?? 400}: ${msg})`,
      'check that the workspace receives the consumer metrics (AppMetrics) and the table name in the query',
      400,
    )
  if (status === 400)
    return make(
      'bad-query',
      `the query was rejected (${e.code ?? 400}: ${msg})`,
      'fix the KQL in monitoring.azureMonitor.lagQuery / freshnessQuery',
      400,
    )
  if (status !== undefined) {
    const d = describeStatus(status, ctx) ?? {
      kind: 'server-error' as const,
      fix: 'Log Analytics answered a status closeout does not expect here; check monitoring.azureMonitor.endpoint',
    }
    const detail =
      (
        { unauthorized: 'unauthorized', forbidden: 'forbidden', 'not-found': 'missing-table', 'rate-limited': 'rate-limited' } as Record<
          string,
          MonitorErrorKind
        >
      )[d.kind] ?? 'server-error'
    return make(detail, `${e.code ?? ''} ${msg}`.trim(), d.fix, status)
  }
  if (/CredentialUnavailable|AuthenticationRequired|authenticate/i.test(`${e?.name} ${msg}`))
    return make(
      'unauthorized',
      `no Azure credential available (${msg})`,
      'run az login, or configure workload identity / a managed identity for DefaultAzureCredential, and rerun',
    )
  if (e?.name !== 'RestError' && (err instanceof TypeError || err instanceof SyntaxError))
    return make(
      'malformed',
      `the answer could not be read as Log Analytics tables (${msg})`,
      'check that monitoring.azureMonitor.endpoint is the Log Analytics query API, not a proxy or login page',
    )
  const d = describeNetworkError(err, url, ctx, o.timeoutMs)
  return make(d.kind === 'tls' ? 'tls' : /no answer within/.test(d.what) ? 'timeout' : 'unreachable', d.what, d.fix)
}

/** Tables whose rows are not arrays of one cell per column cannot be read: could not check. */
function checkTables(tables: LogsTable[], ctx: ServiceContext, url: string): void {
  for (const t of tables) {
    const n = t.columnDescriptors?.length ?? 0
    const bad = !Array.isArray(t.rows) ? -1 : t.rows.findIndex((r) => !Array.isArray(r) || r.length !== n)
    if (bad >= 0 || !Array.isArray(t.rows)) {
      const fix = 'check that monitoring.azureMonitor.endpoint is the Log Analytics query API (a proxy may rewrite the answer)'
      const what = !Array.isArray(t.rows)
        ? `table ${t.name} has no rows list`
        : `row ${bad} of table ${t.name} does not have one cell per column (${n} columns)`
      throw new MonitorError({
        kind: 'server-error',
        monitorKind: 'malformed',
        where: ctx.where,
        url,
        statusCode: 200,
        message: `${ctx.where}: POST ${safeUrl(url)} answered 200 with malformed rows: ${what} — ${fix}`,
        fix,
      })
    }
  }
}

export async function queryAzureMonitor(o: AzureMonitorQuery): Promise<MonitorResult> {
  const endpoint = o.endpoint ?? DEFAULT_LA_ENDPOINT
  const url = `${endpoint}/workspaces/${o.workspaceId}/query`
  const where = `Log Analytics workspace ${o.workspaceId} (${endpoint})`
  const ctx = azureContext(o, where)
  const current: { signal?: AbortSignal } = {}
  const client = logsClient(o, current)
  const timespan = describeTimespan(o.timespan)
  const report = (a: Attempt) =>
    o.observer?.({
      kind: 'query',
      command: o.query,
      target: `${where}, time range ${timespan}${a.attempt > 1 || a.waitMs ? ` (attempt ${a.attempt})` : ''}`,
      ...(a.status !== undefined ? { status: a.status } : {}),
    })
  const t0 = performance.now()
  const ts = 'duration' in o.timespan ? { duration: o.timespan.duration } : { startTime: o.timespan.startTime, endTime: o.timespan.endTime }
  const { value: r, attempts } = await retryTransient(
    o.retry ?? DEFAULT_RETRY.monitoring,
    async (): Promise<Outcome<Awaited<ReturnType<LogsQueryClient['queryWorkspace']>>>> => {
      try {
        const value = await withDeadline(o.timeoutMs, (signal) => {
          current.signal = signal
          return client.queryWorkspace(o.workspaceId, o.query, ts, { serverTimeoutInSeconds: Math.max(1, Math.ceil(o.timeoutMs / 1000)) })
        })
        return { ok: true, value, status: 200 }
      } catch (err) {
        const error = mapAzureError(err, o, ctx, url)
        const transient =
          error.statusCode !== undefined
            ? isTransientStatus(error.statusCode)
            : /ECONNRESET|socket hang up|EPIPE/.test(String((err as SdkError)?.code ?? (err as Error)?.message))
        return {
          ok: false,
          status: error.statusCode,
          transient,
          retryAfter: (err as SdkError)?.response?.headers?.get?.('retry-after'),
          error,
        }
      }
    },
    report,
  )
  const tables = r.status === LogsQueryResultStatus.Success ? r.tables : r.partialTables
  checkTables(tables ?? [], ctx, url)
  if (r.status !== LogsQueryResultStatus.Success && !o.allowPartial) {
    const fix = 'rerun later; if it persists, narrow monitoring.windowMinutes or check the workspace in the Azure portal'
    throw new MonitorError({
      kind: 'server-error',
      monitorKind: 'partial',
      where,
      url,
      statusCode: 200,
      code: r.partialError.code,
      attempts,
      message: `${where}: POST ${safeUrl(url)} returned a partial result (${r.partialError.code}: ${r.partialError.message}): rows may be missing, so neither lag nor freshness can be concluded — ${fix}`,
      fix,
    })
  }
  const t = tables?.[0]
  return {
    request: { kind: 'azure-monitor', url, workspace: o.workspaceId, target: where, query: o.query, timespan },
    rows: t ? tableRows(t) : [],
    columns: t ? t.columnDescriptors.map((c) => c.name ?? '') : [],
    durationMs: Math.round(performance.now() - t0),
    status: r.status,
    attempts,
    ...(r.status !== LogsQueryResultStatus.Success ? { partialError: `${r.partialError.code}: ${r.partialError.message}` } : {}),
  }
}

export interface PrometheusQuery {
  url: string
  query: string
  start: Date
  end: Date
  stepSeconds: number
  bearerToken?: string
  timeoutMs: number
  caFile?: string
  observer?: CallObserver
  retry?: RetryBudget
}

function promContext(o: PrometheusQuery): ServiceContext {
  return {
    where: `Prometheus ${safeUrl(o.url)}`,
    urlKey: 'monitoring.prometheus.url',
    timeoutKey: 'monitoring.timeoutMs',
    classification: 'MONITORING_ACCESS_BLOCKED',
    fixes: {
      unauthorized: 'the bearer token was missing or not accepted; set monitoring.prometheus.bearerToken (a fresh token) and rerun',
      forbidden: 'the identity may not query this Prometheus; grant it read access (e.g. Monitoring Data Reader) and rerun',
      'not-found': 'check monitoring.prometheus.url: it must be the Prometheus server (its /api/v1/query_range)',
      'rate-limited': 'Prometheus is throttling this identity and the retry budget is used up; wait a few minutes and rerun',
      'server-error': 'Prometheus failed on its side; check its health and rerun later',
    },
  }
}

const makeMonitorError = (init: AccessInit) => new MonitorError(init)

type PromBody = { status?: string; error?: string; errorType?: string; data?: { result?: unknown } }

/** A sample value as Prometheus writes it ("3", "NaN", "+Inf"); undefined when it is not one. */
function promValue(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined
  if (v === '+Inf' || v === 'Inf') return Number.POSITIVE_INFINITY
  if (v === '-Inf') return Number.NEGATIVE_INFINITY
  if (v === 'NaN') return Number.NaN
  const n = Number(v)
  return v.trim() === '' || Number.isNaN(n) ? undefined : n
}

/** The matrix as rows, or the index of the first sample that is not a [time, "value"] pair. */
function promRows(result: unknown): Array<Record<string, unknown>> | string {
  if (!Array.isArray(result)) return 'data.result is not a list'
  const rows: Array<Record<string, unknown>> = []
  for (const [i, series] of result.entries()) {
    const s = series as { metric?: unknown; values?: unknown }
    if (!s || typeof s.metric !== 'object' || !Array.isArray(s.values))
      return `series ${i} has no metric labels or no values list (is it a range query answer?)`
    for (const [j, pair] of s.values.entries()) {
      const t = Array.isArray(pair) ? pair[0] : undefined
      const v = Array.isArray(pair) ? promValue(pair[1]) : undefined
      if (typeof t !== 'number' || !Number.isFinite(t) || v === undefined)
        return `sample ${j} of series ${i} is not a [time, "value"] pair (${JSON.stringify(pair)?.slice(0, 60)})`
      rows.push({ TimeGenerated: new Date(t * 1000).toISOString(), ...(s.metric as Record<string, string>), value: v })
    }
  }
  return rows
}

export async function queryPrometheus(o: PrometheusQuery): Promise<MonitorResult> {
  const u = new URL('/api/v1/query_range', o.url)
  u.searchParams.set('query', o.query)
  u.searchParams.set('start', String(o.start.getTime() / 1000))
  u.searchParams.set('end', String(o.end.getTime() / 1000))
  u.searchParams.set('step', String(o.stepSeconds))
  const ctx = promContext(o)
  const timespan = `${o.start.toISOString()}/${o.end.toISOString()} step ${o.stepSeconds}s`
  const req = { url: u.toString(), service: ctx, makeError: makeMonitorError, timeoutMs: o.timeoutMs }
  const r = await send({
    ...req,
    caFile: o.caFile,
    headers: o.bearerToken ? { authorization: `Bearer ${o.bearerToken}` } : {},
    call: { kind: 'query', command: o.query, target: `${ctx.where}, time range ${timespan}` },
    observer: o.observer,
    retry: o.retry ?? DEFAULT_RETRY.monitoring,
    failOn: (status) => [401, 403, 404, 429].includes(status),
  })
  const fail = (monitorKind: MonitorErrorKind, what: string, fix: string, code?: string): never => {
    throw new MonitorError({
      kind: ACCESS_KIND[monitorKind],
      monitorKind,
      where: ctx.where,
      url: u.toString(),
      statusCode: r.status,
      code,
      attempts: r.attempts,
      message: `${ctx.where}: GET ${safeUrl(u)} answered ${r.status}: ${what} — ${fix}`,
      fix,
    })
  }
  let j: PromBody
  try {
    j = JSON.parse(r.text) as PromBody
  } catch {
    if (r.status >= 500) throw Object.assign(accessErrorOf(req, { status: r.status, body: r.text }), { attempts: r.attempts })
    return fail(
      'malformed',
      'a body that is not JSON',
      'check that monitoring.prometheus.url is a Prometheus HTTP API (not a proxy or login page)',
    )
  }
  if (r.status === 400 || r.status === 422 || j.errorType === 'bad_data')
    return fail(
      'bad-query',
      `the query was rejected (${j.error ?? r.status})`,
      'fix the PromQL in monitoring.prometheus.lagQuery / freshnessQuery',
      j.errorType,
    )
  if (r.status >= 500)
    return fail(
      'server-error',
      `${j.errorType ?? ''} ${j.error ?? ''}`.trim() || 'a server error',
      ctx.fixes?.['server-error'] ?? '',
      j.errorType,
    )
  if (r.status !== 200 || j.status !== 'success')
    return fail(
      'malformed',
      `status ${JSON.stringify(j.status)} ${j.errorType ?? ''} ${j.error ?? ''}`.trim(),
      'check that monitoring.prometheus.url is a Prometheus HTTP API',
      j.errorType,
    )
  const rows = promRows(j.data?.result)
  if (typeof rows === 'string')
    return fail(
      'malformed',
      `malformed rows: ${rows}`,
      'check that monitoring.prometheus.url is a Prometheus HTTP API (a proxy may rewrite the answer)',
    )
  return {
    request: { kind: 'prometheus', url: u.origin + u.pathname, target: ctx.where, query: o.query, timespan },
    rows,
    columns: ['TimeGenerated', 'value'],
    durationMs: r.durationMs,
    status: r.status,
    attempts: r.attempts,
  }
}
