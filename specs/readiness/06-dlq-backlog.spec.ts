/**
 * Phase 7 §3 — the DLQ backlog is under the threshold and the DLQ tool's read-only commands work.
 */
import { GateFailure, gate, parseExposition } from '../../helpers/index.ts'
import { consumerGet, readinessProfile, requireReadiness } from '../shared/readiness.ts'

gate(
  {
    id: 'dlq-backlog',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '06_dlq_backlog.log',
    title: "the consumer DLQ backlog is at or under the threshold and the DLQ tool's read-only commands succeed",
    description:
      'Phase 7 exit criterion "DLQ script functional" and "DLQ Review: run dlq_tool.py report" (alert increase(events_dlq_total[10m]) > 0): the consumer dlq backlog gauge from its /metrics ≤ readiness.dlqBacklogMax, and each readiness.dlqTool command (list, report) exits 0 in the consumer pod, its output kept',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    const tool = requireReadiness(ctx, 'dlqTool', 'dlqTool: { commands: [[python, scripts/dlq_tool.py, list, --stream, identity.dlq]] }')
    const r = await consumerGet(ctx, `consumer ${p.metricsPath} → ${p.dlqMetric}`, p.metricsPath)
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
    const problems: string[] = []
    if (r.status !== 200) problems.push(`consumer ${p.metricsPath} answered ${r.status}`)
    else if (!samples.length) problems.push(`the consumer does not expose ${p.dlqMetric}: the DLQ backlog cannot be checked`)
    else if (backlog > p.dlqBacklogMax)
      problems.push(
        `DLQ backlog ${backlog} exceeds the threshold ${p.dlqBacklogMax}: inspect with the DLQ tool, reprocess or resolve, then rerun`,
      )
    const c = ctx.target.consumer
    for (const command of tool.commands) {
      // the step records the command, exit code and output (the evidence the runbook's "Test Results" show)
      const x = await ctx.exec(`DLQ tool: ${command.slice(0, 3).join(' ')}`, { deployment: c.deployment, container: c.container, command })
      if (x.exitCode !== 0) {
        const why = (x.error ?? x.stderr).trim().split('\n').filter(Boolean).slice(-1)[0] ?? ''
        problems.push(`DLQ tool \`${command.join(' ')}\` exited ${x.exitCode ?? 'unknown'} in deploy/${c.deployment}: ${why}`)
      }
    }
    if (problems.length) throw new GateFailure(problems.join('; '))
  },
)
