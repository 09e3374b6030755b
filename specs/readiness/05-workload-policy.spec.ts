/**
 * AC review Phase 1/2 (ADR-0012) — probes, resources, non-root, NetworkPolicy for the API and consumer.
 */
import type { V1Container, V1Deployment } from '../../helpers/index.ts'
import { GateFailure, gate } from '../../helpers/index.ts'
import { readinessProfile } from '../shared/readiness.ts'

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || !Object.keys(selector).length) return true // {} selects every pod of the namespace
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v)
}

function containerProblems(d: V1Deployment, c: V1Container, isServer: boolean): string[] {
  const out: string[] = []
  const pod = d.spec?.template?.spec
  if (isServer && !c.readinessProbe) out.push('no readinessProbe')
  if (!c.livenessProbe) out.push('no livenessProbe')
  if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory) out.push('no cpu/memory requests')
  if (!c.resources?.limits?.memory) out.push('no memory limit')
  const nonRoot = c.securityContext?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot
  const uid = c.securityContext?.runAsUser ?? pod?.securityContext?.runAsUser
  if (!(nonRoot === true || (uid !== undefined && uid !== 0))) out.push('may run as root (runAsNonRoot not set)')
  if (c.securityContext?.allowPrivilegeEscalation !== false) out.push('allowPrivilegeEscalation not false')
  return out
}

gate(
  {
    id: 'workload-policy',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '05_workload_policy.log',
    title: 'API and consumer have probes, resources, non-root security context and a NetworkPolicy',
    description: 'K8s manifests with readinessProbe, resources, non-root, NetworkPolicy (AC review Phase 1–2, ADR-0012)',
  },
  async (ctx) => {
    const p = readinessProfile(ctx)
    const problems: string[] = []
    const policies = p.requireNetworkPolicy
      ? await ctx.kube.listNetworkPolicies({
          summarize: (ps) => ps.map((x) => ({ name: x.metadata?.name, podSelector: x.spec?.podSelector?.matchLabels ?? {} })),
        })
      : []
    for (const [name, container, isServer] of [
      [ctx.target.api.deployment, ctx.target.api.container, true],
      [ctx.target.consumer.deployment, ctx.target.consumer.container, false],
    ] as const) {
      const d = await ctx.kube.readDeployment(name, {
        summarize: (x) => ({
          containers: x.spec?.template?.spec?.containers?.map((c) => ({
            name: c.name,
            readinessProbe: Boolean(c.readinessProbe),
            livenessProbe: Boolean(c.livenessProbe),
            resources: c.resources,
            securityContext: c.securityContext,
          })),
          podSecurityContext: x.spec?.template?.spec?.securityContext,
        }),
      })
      const c = d.spec?.template?.spec?.containers?.find((x) => x.name === container) ?? d.spec?.template?.spec?.containers?.[0]
      if (!c) {
        problems.push(`${name}: no container ${container}`)
        continue
      }
      problems.push(...containerProblems(d, c, isServer).map((x) => `${name}/${c.name}: ${x}`))
      if (
        p.requireNetworkPolicy &&
        !policies.some((np) => selects(np.spec?.podSelector?.matchLabels, d.spec?.template?.metadata?.labels))
      ) {
        problems.push(`${name}: no NetworkPolicy selects its pods`)
      }
    }
    await ctx.evidence.note('policy check', { problems: problems.join('\n') || 'none' }, problems.length ? 'fail' : 'pass')
    if (problems.length) throw new GateFailure(`workload policy: ${problems.join('; ')}`)
  },
)
