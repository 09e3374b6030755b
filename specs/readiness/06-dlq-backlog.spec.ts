/**
 * Phase 7 ops runbook — the DLQ backlog is under the threshold (DLQ additions alert immediately).
 */
import { gate } from '../../helpers/gate.ts'
import { GateFailure, GateBlocked } from '../../helpers/classification.ts'
import { httpRequest } from '../../helpers/http.ts'
import { isoNow } from '../../helpers/evidence.ts'
import { parseExposition } from '../../helpers/prom-text.ts'
import { readinessProfile } from '../shared/readiness.ts'

gate(
  {
    id: 'dlq-backlog',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '06_dlq_backlog.log',
    title: 'the consumer DLQ backlog is at or under the threshold',
    description: 'dlq_tool.py report / increase(events_dlq_total[10m]) > 0 alert (Phase 7): read the consumer dlq backlog gauge from its /metrics',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    if (!p.consumerMetricsPort) throw new GateBlocked('readiness.consumerMetricsPort is not set in the target profile')
    const pf = await ctx.kube().portForward({ deployment: ctx.target.consumer.deployment }, p.consumerMetricsPort)
    ctx.touched.add(`deploy/${ctx.target.consumer.deployment}`)
    try {
      const started = isoNow()
      const r = await httpRequest(new URL(p.metricsPath, pf.localUrl).toString(), { timeoutMs: ctx.target.api.timeoutMs })
      const e = parseExposition(r.body)
      const samples = e.samples.filter((s) => s.name === p.dlqMetric)
      const backlog = samples.reduce((n, s) => n + s.value, 0)
      await ctx.evidence.record({
        step: `consumer ${p.metricsPath} → ${p.dlqMetric}`,
        kind: 'http',
        command: `GET ${p.metricsPath}`,
        target: `port-forward deploy/${ctx.target.consumer.deployment}:${p.consumerMetricsPort}`,
        startedAt: started,
        finishedAt: isoNow(),
        durationMs: r.durationMs,
        httpStatus: r.status,
        result: r.status === 200 && samples.length && backlog <= p.dlqBacklogMax ? 'pass' : 'fail',
        details: { [p.dlqMetric]: samples.map((s) => `${JSON.stringify(s.labels)} ${s.value}`).join('\n') || 'absent', threshold: String(p.dlqBacklogMax) },
      })
      if (r.status !== 200) throw new GateFailure(`consumer ${p.metricsPath} answered ${r.status}`)
      if (!samples.length) throw new GateFailure(`the consumer does not expose ${p.dlqMetric}: the DLQ backlog cannot be checked`)
      if (backlog > p.dlqBacklogMax) throw new GateFailure(`DLQ backlog ${backlog} exceeds the threshold ${p.dlqBacklogMax}: inspect with the DLQ tool, reprocess or resolve, then rerun`)
    } finally {
      pf.close()
    }
  },
)
