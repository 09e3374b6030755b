/**
 * AC review (Security / Observability) — no PII and no secrets in recent logs of the API and consumer.
 */
import { GateFailure, gate } from '../../helpers/index.ts'
import { type LogFinding, readinessProfile, scanLogText } from '../shared/readiness.ts'

gate(
  {
    id: 'log-hygiene',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '04_log_hygiene.log',
    title: 'recent API and consumer logs carry no PII and no secrets',
    description:
      '"Zero PII in logs (verified by automated scan)" (AC review Phase 3); kubectl logs --tail=400 of the API and consumer pods, scanned for emails, card numbers, tokens, passwords, keys',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    const findings: (LogFinding & { pod: string })[] = []
    let scanned = 0
    for (const [deployment, container] of [
      [ctx.target.api.deployment, ctx.target.api.container],
      [ctx.target.consumer.deployment, ctx.target.consumer.container],
    ]) {
      const pods = await ctx.kube.podsOfDeployment(deployment, { summarize: (ps) => ps.map((x) => x.metadata?.name) })
      for (const pod of pods.slice(0, 3)) {
        const name = pod.metadata?.name as string
        // the record keeps the line count, not the text: the logs may hold the very PII being looked for
        const text = await ctx.kube.podLogs(name, container, p.logTailLines, {
          summarize: (t) => `${t.split('\n').length} lines read (the text is scanned, not recorded)`,
        })
        scanned += text.split('\n').length
        // the scan runs on the raw text; only masked excerpts reach the evidence
        for (const f of scanLogText(text, (s) => ctx.evidence.redactor.redact(s), p.piiPatterns)) findings.push({ ...f, pod: name })
      }
    }
    await ctx.evidence.note(
      'log scan',
      {
        lines_scanned: String(scanned),
        findings: findings.length
          ? findings
              .slice(0, 20)
              .map((f) => `${f.pod} line ${f.line}: ${f.kind}: ${f.excerpt}`)
              .join('\n')
          : 'none',
      },
      findings.length ? 'fail' : 'pass',
    )
    if (findings.length)
      throw new GateFailure(
        `${findings.length} log line(s) with PII or secrets, e.g. ${findings[0].pod} line ${findings[0].line}: ${findings[0].kind}`,
      )
  },
)
