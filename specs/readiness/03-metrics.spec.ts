/**
 * Week 4 W4-001 / AC review Phase 3 — /metrics of the API and the worker: valid exposition format, the
 * profile's metric types, throughput / error / duration signals, cumulative histogram buckets.
 */
import { type Exposition, GateFailure, gate, hasMetric, histogramProblems, parseExposition } from '../../helpers/index.ts'
import { consumerGet, type ReadinessProfile, readinessProfile, requireReadiness } from '../shared/readiness.ts'

type ServiceMetrics = NonNullable<ReadinessProfile['metrics']>['api']

const SIGNAL_TYPES: Record<'throughput' | 'errors' | 'duration', readonly string[]> = {
  throughput: ['counter'],
  errors: ['counter'],
  duration: ['histogram', 'summary'],
}

/** Everything wrong with one service's page against its profile entry (parse errors first). */
function pageProblems(e: Exposition, m: ServiceMetrics, required: readonly string[]): string[] {
  const out = e.errors.slice(0, 5).map((x) => `not valid exposition format: line ${x}`)
  if (e.errors.length) return out
  if (!e.samples.length) return ['exposes no samples']
  for (const [name, type] of Object.entries(m.types)) {
    if (!(name in e.types)) out.push(`${name}: no TYPE line (profile: ${type})`)
    else if (e.types[name] !== type) out.push(`${name} is TYPE ${e.types[name]}, the profile says ${type}`)
    if (!hasMetric(e, name)) out.push(`${name}: no samples`)
  }
  for (const signal of ['throughput', 'errors', 'duration'] as const) {
    const name = m[signal]
    if (!hasMetric(e, name)) out.push(`${signal} signal ${name}: no samples`)
    else if (!SIGNAL_TYPES[signal].includes(e.types[name] ?? 'untyped'))
      out.push(`${signal} signal ${name} is ${e.types[name] ?? 'untyped'}, expected ${SIGNAL_TYPES[signal].join(' or ')}`)
  }
  for (const [name, type] of Object.entries(e.types)) if (type === 'histogram') out.push(...histogramProblems(e, name))
  for (const name of required) if (!hasMetric(e, name)) out.push(`required metric ${name} is missing`)
  return out
}

gate(
  {
    id: 'metrics',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '03_metrics.log',
    title: "/metrics of the API and the worker is valid exposition format with the profile's types and signals",
    description:
      'Week 4 W4-001 "Both services expose Prometheus-format metrics for core throughput/error/duration signals" and AC review Phase 3 "/metrics returns Prometheus-formatted output": a strict parse (what promtool check metrics rejects fails), TYPE per readiness.metrics, the throughput/errors/duration signals of API and worker, cumulative histogram buckets',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    const metrics = requireReadiness(ctx, 'metrics', 'metrics: { api: { types: {…}, throughput: …, errors: …, duration: … } }')
    const pages = [
      {
        who: 'API',
        m: metrics.api,
        required: p.requiredMetrics,
        get: () => ctx.api.get('GET /metrics', p.metricsPath, { expectStatus: 200 }),
      },
      ...(metrics.consumer
        ? [
            {
              who: 'worker',
              m: metrics.consumer,
              required: [],
              get: () => consumerGet(ctx, `consumer GET ${p.metricsPath}`, p.metricsPath),
            },
          ]
        : []),
    ]
    const problems: string[] = []
    for (const page of pages) {
      const r = await page.get()
      const e = parseExposition(r.body)
      const bad = r.status !== 200 ? [`answered ${r.status}`] : pageProblems(e, page.m, page.required)
      await ctx.evidence.note(
        `${page.who} exposition check`,
        {
          content_type: r.headers['content-type'] ?? '-',
          samples: String(e.samples.length),
          types: Object.entries(e.types)
            .map(([n, t]) => `${n} ${t}`)
            .join(', '),
          problems: bad.join('\n') || 'none',
        },
        bad.length ? 'fail' : 'pass',
      )
      problems.push(...bad.map((b) => `${page.who} ${p.metricsPath}: ${b}`))
    }
    if (problems.length) throw new GateFailure(problems.slice(0, 8).join('; '))
  },
)
