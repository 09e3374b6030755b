/**
 * Week 4 W4-001 / AC review Phase 3 — /metrics in Prometheus exposition format with the required names.
 */
import { GateFailure, gate, hasMetric, parseExposition } from '../../helpers/index.ts'
import { readinessProfile } from '../shared/readiness.ts'

gate(
  {
    id: 'metrics',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '03_metrics.log',
    title: '/metrics is valid Prometheus exposition format and has the required metrics',
    description:
      '"/metrics returns Prometheus-formatted output" (AC review Phase 3); core throughput/error/duration signals (Week 4 W4-001)',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    const r = await ctx.api.get('GET /metrics', p.metricsPath, { expectStatus: 200 })
    if (r.status !== 200) throw new GateFailure(`/metrics answered ${r.status}`)
    const e = parseExposition(r.body)
    const missing = p.requiredMetrics.filter((m) => !hasMetric(e, m))
    await ctx.evidence.note(
      'exposition check',
      {
        content_type: r.headers['content-type'] ?? '-',
        samples: String(e.samples.length),
        families: Object.keys(e.types).join(', '),
        parse_errors: e.errors.slice(0, 10).join('\n') || 'none',
        missing_required: missing.join(', ') || 'none',
      },
      e.errors.length || missing.length ? 'fail' : 'pass',
    )
    if (e.errors.length)
      throw new GateFailure(`/metrics is not valid exposition format (${e.errors.length} bad line(s), first: ${e.errors[0]})`)
    if (!e.samples.length) throw new GateFailure('/metrics exposes no samples')
    if (missing.length) throw new GateFailure(`/metrics lacks required metrics: ${missing.join(', ')}`)
  },
)
