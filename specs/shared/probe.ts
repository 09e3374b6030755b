// Connectivity probes run inside the consumer pod (F3-4 Task 2 step 3). A pass needs exit 0 AND the
// explicit marker line: "reviewers must verify connectivity evidence lines are explicit, not inferred".
import type { GateContext } from '../../helpers/index.ts'

export async function probeFromConsumer(
  ctx: GateContext,
  step: string,
  command: string[],
  marker: string,
): Promise<{ ok: boolean; reason: string }> {
  const c = ctx.target.consumer
  const r = await ctx.exec(step, { deployment: c.deployment, container: c.container, command, marker })
  // the plan also keeps the consumer's own log tail next to the probe
  if (r.target?.pod) {
    await ctx.kube
      .podLogs(r.target.pod, c.container, ctx.target.kube.diagnosticsTailLines, {
        step: `consumer logs (--tail=${ctx.target.kube.diagnosticsTailLines})`,
      })
      .catch(() => undefined)
  }
  const hasMarker = r.stdout.split('\n').some((l) => l.trim() === marker)
  if (r.exitCode === 0 && hasMarker) return { ok: true, reason: '' }
  const lastErr = (r.error ?? r.stderr).trim().split('\n').filter(Boolean).slice(-1)[0] ?? ''
  if (r.exitCode === 0)
    return { ok: false, reason: `${step}: exit 0 but the success marker "${marker}" is missing from stdout (not inferred as success)` }
  return { ok: false, reason: `${step} failed in deploy/${c.deployment} (exit ${r.exitCode ?? 'unknown'}): ${lastErr}` }
}
