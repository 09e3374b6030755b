// OpenTelemetry: one trace per run — a span for the run, one per gate, one per evidence step —
// exported as OTLP/HTTP JSON (POST <endpoint>/v1/traces) when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Written against the OTLP spec directly rather than the
// @opentelemetry SDK: one POST after the run needs no SDK, batching or context machinery.
// Attributes follow the CI/CD semantic conventions (cicd.pipeline.*, development status) and the
// test conventions (test.case.*); closeout.* carries what they have no name for.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runbookStepsOf } from './runbook-steps.ts'

/** The run fields every report of a summary reads (CTRF, JUnit/Allure properties, spans). */
export interface RunSummaryHead {
  suite: string
  runId: string
  target: string
  startedAt: string
  finishedAt: string
  decision: string
}

export interface OtelSummary extends RunSummaryHead {
  gates: { id: string; suite: string; status: string; classification: string | null; reason: string | null; durationMs: number }[]
  classifications: string[]
  bundles?: Record<string, string>
}

type AttrValue = { stringValue: string } | { intValue: string } | { boolValue: boolean }
export interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  startTimeUnixNano: string
  endTimeUnixNano: string
  attributes: { key: string; value: AttrValue }[]
  status: { code: number; message?: string }
}

const SPAN_KIND_INTERNAL = 1
const STATUS_OK = 1
const STATUS_ERROR = 2

function attrs(o: Record<string, string | number | boolean | null | undefined>): OtlpSpan['attributes'] {
  return Object.entries(o)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([key, v]) => ({
      key,
      value:
        typeof v === 'number'
          ? { intValue: String(Math.round(v)) }
          : typeof v === 'boolean'
            ? { boolValue: v }
            : { stringValue: String(v) },
    }))
}

const nanos = (iso: string | number) => `${BigInt(typeof iso === 'number' ? iso : Date.parse(iso)) * 1_000_000n}`
const hex = (bytes: number) => randomBytes(bytes).toString('hex')

/** cicd.pipeline.result / task.run.result values: success, failure, error (could not check), skip. */
function pipelineResult(decision: string): string {
  return decision === 'GO' ? 'success' : decision === 'NO_GO' ? 'failure' : 'error'
}
function taskResult(status: string): string {
  if (status === 'passed') return 'success'
  if (status === 'failed') return 'failure'
  if (status === 'skipped') return 'skip'
  if (status === 'waived' || status === 'advisory') return 'success'
  return 'error'
}

interface StepRecord {
  gate?: string
  suite?: string
  step?: string
  kind?: string
  command?: string
  target?: string
  startedAt?: string
  finishedAt?: string
  exitCode?: number
  httpStatus?: number
  result?: string
}

function readSteps(bundles: Record<string, string> | undefined): StepRecord[] {
  const out: StepRecord[] = []
  for (const dir of Object.values(bundles ?? {})) {
    const file = join(dir, 'evidence.jsonl')
    if (!existsSync(file)) continue
    for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      try {
        out.push(JSON.parse(line) as StepRecord)
      } catch {
        /* a partial last line of an interrupted run: skip it */
      }
    }
  }
  return out
}

/** W3C traceparent from the CI (TRACEPARENT): the run span joins the pipeline's trace. */
function parentFrom(env: NodeJS.ProcessEnv): { traceId: string; spanId: string } | undefined {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(env.TRACEPARENT ?? '')
  return m ? { traceId: m[1], spanId: m[2] } : undefined
}

/** The spans of a run: run → gates → steps. Pure apart from the random ids. */
export function buildSpans(s: OtelSummary, env: NodeJS.ProcessEnv = process.env): OtlpSpan[] {
  const parent = parentFrom(env)
  const traceId = parent?.traceId ?? hex(16)
  const runSpanId = hex(8)
  const steps = readSteps(s.bundles)
  const spans: OtlpSpan[] = [
    {
      traceId,
      spanId: runSpanId,
      ...(parent ? { parentSpanId: parent.spanId } : {}),
      name: `closeout ${s.suite}`,
      kind: SPAN_KIND_INTERNAL,
      startTimeUnixNano: nanos(s.startedAt),
      endTimeUnixNano: nanos(s.finishedAt),
      attributes: attrs({
        'cicd.pipeline.name': `closeout ${s.suite}`,
        'cicd.pipeline.run.id': s.runId,
        'cicd.pipeline.result': pipelineResult(s.decision),
        'closeout.decision': s.decision,
        'closeout.target': s.target,
        'closeout.classifications': s.classifications.join(','),
      }),
      status:
        s.decision === 'GO'
          ? { code: STATUS_OK }
          : { code: STATUS_ERROR, message: `${s.decision}: ${s.classifications.join(', ') || 'see the summary'}` },
    },
  ]
  for (const g of s.gates) spans.push(...gateSpans(g, s, steps, traceId, runSpanId))
  return spans
}

function gateSpans(
  g: OtelSummary['gates'][number],
  s: OtelSummary,
  steps: StepRecord[],
  traceId: string,
  parentSpanId: string,
): OtlpSpan[] {
  const mine = steps.filter((r) => r.gate === g.id && r.suite === g.suite && r.startedAt && r.finishedAt)
  const start = mine.length ? Math.min(...mine.map((r) => Date.parse(r.startedAt!))) : Date.parse(s.startedAt)
  const end = mine.length ? Math.max(...mine.map((r) => Date.parse(r.finishedAt!)), start + g.durationMs) : start + g.durationMs
  const spanId = hex(8)
  const ok = g.status === 'passed' || g.status === 'skipped' || g.status === 'waived' || g.status === 'advisory'
  const gate: OtlpSpan = {
    traceId,
    spanId,
    parentSpanId,
    name: `${g.suite}/${g.id}`,
    kind: SPAN_KIND_INTERNAL,
    startTimeUnixNano: nanos(start),
    endTimeUnixNano: nanos(end),
    attributes: attrs({
      'cicd.pipeline.task.name': `${g.suite}/${g.id}`,
      'cicd.pipeline.task.run.id': `${s.runId}/${g.suite}/${g.id}`,
      'cicd.pipeline.task.type': 'test',
      'cicd.pipeline.task.run.result': taskResult(g.status),
      'test.case.name': `${g.suite}/${g.id}`,
      'test.case.result.status': g.status === 'passed' ? 'pass' : g.status === 'failed' ? 'fail' : undefined,
      'closeout.gate.status': g.status,
      'closeout.classification': g.classification,
      'closeout.runbook.step': runbookStepsOf(g.suite, g.id).join('; '),
    }),
    status: ok
      ? { code: STATUS_OK }
      : { code: STATUS_ERROR, message: `${g.classification ?? g.status}${g.reason ? `: ${g.reason.slice(0, 300)}` : ''}` },
  }
  const stepSpans = mine.map(
    (r): OtlpSpan => ({
      traceId,
      spanId: hex(8),
      parentSpanId: spanId,
      name: r.step ?? r.kind ?? 'step',
      kind: SPAN_KIND_INTERNAL,
      startTimeUnixNano: nanos(r.startedAt!),
      endTimeUnixNano: nanos(r.finishedAt!),
      // command and target are already redacted by the evidence writer
      attributes: attrs({
        'closeout.step.kind': r.kind,
        'closeout.step.command': r.command,
        'closeout.step.target': r.target,
        'process.exit.code': r.exitCode,
        'http.response.status_code': r.httpStatus,
        'closeout.step.result': r.result,
      }),
      status: r.result === 'fail' ? { code: STATUS_ERROR } : { code: 0 },
    }),
  )
  return [gate, ...stepSpans]
}

export function otlpTracesBody(spans: OtlpSpan[], env: NodeJS.ProcessEnv = process.env): object {
  const resource = attrs({ 'service.name': env.OTEL_SERVICE_NAME || 'closeout', 'service.version': '0.1.0' })
  return { resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'closeout', version: '0.1.0' }, spans }] }] }
}

/** The traces URL per the OTLP exporter spec: the signal endpoint as is, else <base>/v1/traces. */
export function tracesEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`
  return undefined
}

/** OTEL_EXPORTER_OTLP_HEADERS "k=v,k2=v2" (values may be secrets: they are sent, never printed). */
function otlpHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS ?? '').split(',')) {
    const i = part.indexOf('=')
    if (i > 0) out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim())
  }
  return out
}

/** An endpoint for a message: credentials in the URL (user:pass@, ?key=) never reach a log. */
function shownEndpoint(u: string): string {
  try {
    const url = new URL(u)
    return `${url.protocol}//${url.host}${url.pathname}`
  } catch {
    return '(the configured OTLP endpoint, not a valid URL)'
  }
}

export class OtelExportError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'OtelExportError'
  }
}

/** Export the run's spans; undefined when no endpoint is configured. Throws OtelExportError naming the endpoint. */
export async function exportOtel(
  s: OtelSummary,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 10_000,
): Promise<{ endpoint: string; spans: number } | undefined> {
  const endpoint = tracesEndpoint(env)
  if (!endpoint) return undefined
  const spans = buildSpans(s, env)
  let res: Response
  try {
    res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...otlpHeaders(env) },
      body: JSON.stringify(otlpTracesBody(spans, env)),
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (err) {
    throw new OtelExportError(
      `OTLP export to ${shownEndpoint(endpoint)} failed: ${err instanceof Error ? err.message : String(err)} (is the collector up? unset OTEL_EXPORTER_OTLP_ENDPOINT to skip)`,
    )
  }
  if (!res.ok)
    throw new OtelExportError(
      `OTLP export to ${shownEndpoint(endpoint)} answered HTTP ${res.status} (check the collector's OTLP/HTTP receiver and OTEL_EXPORTER_OTLP_HEADERS)`,
    )
  await res.arrayBuffer()
  return { endpoint: shownEndpoint(endpoint), spans: spans.length }
}
