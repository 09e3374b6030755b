/**
 * Phase 7 ops runbook — the DLQ backlog is under the threshold (DLQ additions alert immediately).
 */
import { GateBlocked, GateFailure, gate, parseExposition } from '../../helpers/index.ts'
import { readinessProfile } from '../shared/readiness.ts'

gate(
  {
    id: 'dlq-backlog',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '06_dlq_backlog.log',
    title: 'the consumer DLQ backlog is at or under the threshold',
    description:
      'dlq_tool.py report / increase(events_dlq_total[10m]) > 0 alert (Phase 7): read the consumer dlq backlog gauge from its /metrics',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    if (!p.consumerMetricsPort) throw new GateBlocked('readiness.consumerMetricsPort is not set in the target profile')
    const deployment = ctx.target.consumer.deployment
    // closed by the harness when the gate ends
    const pf = await ctx.kube.portForward({ deployment }, p.consumerMetricsPort)
    const r = await ctx.api.getUrl(
      `consumer ${p.metricsPath} → ${p.dlqMetric}`,
      new URL(p.metricsPath, pf.localUrl).toString(),
      `port-forward deploy/${deployment}:${p.consumerMetricsPort}`,
      { expectStatus: 200 },
    )
    const samples = parseExposition(r.body).samples.filter((s) => s.name === p.dlqMetric)
    const backlog = samples.reduce((n, s) => n + s.value, 0)
    await ctx.evidence.note(
      'DLQ backlog',
      {
        [p.dlqMetric]: samples.map((s) => `${JSON.stringify(s.labels)} ${s.value}`).join('\n') || 'absent',
        threshold: String(p.dlqBacklogMax),
      },
      r.status === 200 && samples.length && backlog <= p.dlqBacklogMax ? 'pass' : 'fail',
    )
    if (r.status !== 200) throw new GateFailure(`consumer ${p.metricsPath} answered ${r.status}`)
    if (!samples.length) throw new GateFailure(`the consumer does not expose ${p.dlqMetric}: the DLQ backlog cannot be checked`)
    if (backlog > p.dlqBacklogMax)
      throw new GateFailure(
        `DLQ backlog ${backlog} exceeds the threshold ${p.dlqBacklogMax}: inspect with the DLQ tool, reprocess or resolve, then rerun`,
      )
  },
)
