/**
 * AC review Phase 1–2 (ADR-0012) — resources, probes, grace period, security context and a NetworkPolicy
 * that really restricts the API's and the consumer's traffic to the profile's peers.
 */
import type { V1NetworkPolicy } from '../../helpers/index.ts'
import { containerProblems, GateBlocked, GateFailure, gate, networkPolicyProblems } from '../../helpers/index.ts'
import { readinessProfile, requireReadiness } from '../shared/readiness.ts'

/** The API server serves ingress rules' `from` as is; the client's model names it `_from`. */
function withFrom(p: V1NetworkPolicy): V1NetworkPolicy {
  const ingress = p.spec?.ingress?.map((r) => ({ ...r, _from: r._from ?? (r as { from?: typeof r._from }).from }))
  return p.spec ? { ...p, spec: { ...p.spec, ...(ingress ? { ingress } : {}) } } : p
}

gate(
  {
    id: 'workload-policy',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '05_workload_policy.log',
    title: "API and consumer meet the profile's resources, probes, security context and NetworkPolicy peers",
    description:
      'AC review Infrastructure "Resources: 500m/2000m CPU, 1Gi/2Gi memory per ADR-0012" and "NetworkPolicy: ingress from GC only, egress to PostgreSQL only", Phase 2 "Update K8s with readinessProbe" and "30s graceful shutdown drain" (terminationGracePeriodSeconds), Security "infrastructure security": requests/limits ≥ readiness.workload, readinessProbe GET /ready, livenessProbe, runAsNonRoot, readOnlyRootFilesystem, no privilege escalation; every NetworkPolicy rule selecting the pods allows only readiness.workload.networkPolicy peers (allow-all fails, matchExpressions evaluated)',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    const floor = requireReadiness(
      ctx,
      'workload',
      'workload: { requests: { cpu: 500m, memory: 1Gi }, limits: { cpu: 2000m, memory: 2Gi } }',
    )
    if (p.requireNetworkPolicy && !floor.networkPolicy)
      throw new GateBlocked(
        `target profile ${ctx.target.name} has no readiness.workload.networkPolicy (add { api: { ingressFrom: […], egressTo: […] }, consumer: {…} }, or set readiness.requireNetworkPolicy: false)`,
      )
    const problems: string[] = []
    const policies = p.requireNetworkPolicy
      ? (await ctx.kube.listNetworkPolicies({ summarize: (ps) => ps.map((x) => ({ name: x.metadata?.name, spec: x.spec })) })).map(withFrom)
      : []
    for (const [name, container, role] of [
      [ctx.target.api.deployment, ctx.target.api.container, 'api'],
      [ctx.target.consumer.deployment, ctx.target.consumer.container, 'consumer'],
    ] as const) {
      const d = await ctx.kube.readDeployment(name, {
        summarize: (x) => ({
          terminationGracePeriodSeconds: x.spec?.template?.spec?.terminationGracePeriodSeconds,
          podSecurityContext: x.spec?.template?.spec?.securityContext,
          labels: x.spec?.template?.metadata?.labels,
          containers: x.spec?.template?.spec?.containers?.map((c) => ({
            name: c.name,
            readinessProbe: c.readinessProbe,
            livenessProbe: c.livenessProbe,
            resources: c.resources,
            securityContext: c.securityContext,
          })),
        }),
      })
      const c = d.spec?.template?.spec?.containers?.find((x) => x.name === container) ?? d.spec?.template?.spec?.containers?.[0]
      if (!c) {
        problems.push(`${name}: no container ${container}`)
        continue
      }
      problems.push(
        ...containerProblems(d, c, floor, { server: role === 'api', readyPath: p.readyPath }).map((x) => `${name}/${c.name}: ${x}`),
      )
      const rules = floor.networkPolicy?.[role]
      if (p.requireNetworkPolicy && rules)
        problems.push(...networkPolicyProblems(policies, d.spec?.template?.metadata?.labels ?? {}, rules).map((x) => `${name}: ${x}`))
    }
    await ctx.evidence.note('policy check', { problems: problems.join('\n') || 'none' }, problems.length ? 'fail' : 'pass')
    if (problems.length) throw new GateFailure(`workload policy: ${problems.join('; ')}`)
  },
)
