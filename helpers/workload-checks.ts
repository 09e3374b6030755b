// Pure checks of a workload against the readiness profile (AC review Phase 1–2, ADR-0012): resource
// floors, probes, security context, and whether the NetworkPolicies that select its pods really restrict
// ingress and egress to the profile's peers. No I/O: the gate reads the objects, these judge them.
import type { V1Container, V1Deployment, V1LabelSelector, V1NetworkPolicy, V1NetworkPolicyPeer } from '@kubernetes/client-node'

export interface PeerSpec {
  podLabels?: Record<string, string>
  namespaceLabels?: Record<string, string>
  cidr?: string
}

export interface WorkloadFloor {
  requests: { cpu: string; memory: string }
  limits: { cpu: string; memory: string }
  drainSeconds: number
}

const UNITS: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }

/** A Kubernetes quantity (500m, 2, 1Gi, 1.5G) as a number of base units; undefined when unreadable. */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q).trim())
  return m ? Number(m[1]) * (m[2] ? UNITS[m[2]] : 1) : undefined
}

/** Does a label selector select an object with these labels? (matchLabels AND every matchExpression) */
export function selectorMatches(sel: V1LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!sel) return true
  const byLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v)
  return (
    byLabels &&
    (sel.matchExpressions ?? []).every((e) => {
      const has = e.key in labels
      if (e.operator === 'In') return has && (e.values ?? []).includes(labels[e.key])
      if (e.operator === 'NotIn') return !has || !(e.values ?? []).includes(labels[e.key])
      if (e.operator === 'Exists') return has
      if (e.operator === 'DoesNotExist') return !has
      return false // an unknown operator selects nothing (the API server rejects it anyway)
    })
  )
}

/** Is every object the selector selects guaranteed to carry `required`? Sound, not complete: each required
 * key must be pinned to its value by matchLabels or by an `In` expression listing only that value. */
export function selectorImplies(sel: V1LabelSelector | undefined, required: Record<string, string>): boolean {
  return Object.entries(required).every(
    ([k, v]) =>
      sel?.matchLabels?.[k] === v ||
      (sel?.matchExpressions ?? []).some(
        (e) => e.key === k && e.operator === 'In' && (e.values ?? []).length > 0 && (e.values ?? []).every((x) => x === v),
      ),
  )
}

function ipv4(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0)
}

/** Is CIDR `inner` inside CIDR `outer`? */
export function cidrWithin(inner: string, outer: string): boolean {
  const [ia, ib] = inner.split('/')
  const [oa, ob] = outer.split('/')
  const ip = Number(ib)
  const op = Number(ob)
  if (!(ip >= op) || Number.isNaN(ip) || Number.isNaN(op)) return false
  const block = 2 ** (32 - op)
  return Math.floor(ipv4(ia) / block) === Math.floor(ipv4(oa) / block)
}

/** Why a live peer is not within the profile's allowed peers (undefined = allowed). */
export function peerProblem(peer: V1NetworkPolicyPeer, allowed: readonly PeerSpec[]): string | undefined {
  const shown = JSON.stringify(peer)
  if (peer.ipBlock) {
    if (allowed.some((a) => a.cidr && cidrWithin(peer.ipBlock?.cidr ?? '', a.cidr))) return undefined
    return `ipBlock ${peer.ipBlock.cidr} is not within the profile's CIDRs`
  }
  const empty = (s?: V1LabelSelector) => !!s && !Object.keys(s.matchLabels ?? {}).length && !(s.matchExpressions ?? []).length
  if (empty(peer.podSelector) && !peer.namespaceSelector) return `${shown} selects every pod of the namespace`
  if (empty(peer.namespaceSelector)) return `${shown} selects every namespace`
  const ok = allowed.some((a) => {
    if (!a.podLabels && !a.namespaceLabels) return false
    const nsOk = a.namespaceLabels ? selectorImplies(peer.namespaceSelector, a.namespaceLabels) : !peer.namespaceSelector
    const podOk = a.podLabels ? !!peer.podSelector && selectorImplies(peer.podSelector, a.podLabels) : true
    return nsOk && podOk
  })
  return ok ? undefined : `${shown} may select pods outside the profile's peers`
}

/** Problems of one direction (Ingress / Egress) over every policy that selects the workload's pods. */
function directionProblems(policies: V1NetworkPolicy[], dir: 'Ingress' | 'Egress', allowed: readonly PeerSpec[]): string[] {
  const applying = policies.filter((p) => p.spec?.policyTypes?.includes(dir) ?? (dir === 'Ingress' || !!p.spec?.egress))
  if (!applying.length)
    return [`no NetworkPolicy restricts ${dir.toLowerCase()} (every ${dir === 'Ingress' ? 'source' : 'destination'} allowed)`]
  const out: string[] = []
  for (const p of applying) {
    const rules = (dir === 'Ingress' ? p.spec?.ingress?.map((r) => r._from) : p.spec?.egress?.map((r) => r.to)) ?? []
    rules.forEach((peers, i) => {
      const where = `${p.metadata?.name} ${dir.toLowerCase()}[${i}]`
      if (!peers?.length)
        out.push(`${where} has no ${dir === 'Ingress' ? 'from' : 'to'}: it allows all ${dir === 'Ingress' ? 'sources' : 'destinations'}`)
      for (const peer of peers ?? []) {
        const problem = peerProblem(peer, allowed)
        if (problem) out.push(`${where}: ${problem}`)
      }
    })
  }
  return out
}

/** Every reason the policies selecting `podLabels` do not restrict traffic to the profile's peers. */
export function networkPolicyProblems(
  policies: V1NetworkPolicy[],
  podLabels: Record<string, string>,
  rules: { ingressFrom: readonly PeerSpec[]; egressTo: readonly PeerSpec[] },
): string[] {
  const selecting = policies.filter((p) => selectorMatches(p.spec?.podSelector, podLabels))
  if (!selecting.length) return ['no NetworkPolicy selects its pods']
  return [...directionProblems(selecting, 'Ingress', rules.ingressFrom), ...directionProblems(selecting, 'Egress', rules.egressTo)]
}

/** Probes, resource floors, grace period and security context of one container against the floor. */
export function containerProblems(
  d: V1Deployment,
  c: V1Container,
  floor: WorkloadFloor,
  o: { server: boolean; readyPath: string },
): string[] {
  const out: string[] = []
  const pod = d.spec?.template?.spec
  if (o.server) {
    const path = c.readinessProbe?.httpGet?.path
    if (!c.readinessProbe) out.push('no readinessProbe')
    else if (path !== o.readyPath) out.push(`readinessProbe is ${path ? `GET ${path}` : 'not an HTTP GET'}, not GET ${o.readyPath}`)
  }
  if (!c.livenessProbe) out.push('no livenessProbe')
  for (const kind of ['requests', 'limits'] as const) {
    for (const res of ['cpu', 'memory'] as const) {
      const have = c.resources?.[kind]?.[res]
      const want = floor[kind][res]
      if (have === undefined) out.push(`no ${res} ${kind === 'requests' ? 'request' : 'limit'} (profile: at least ${want})`)
      else if ((parseQuantity(have) ?? -1) < (parseQuantity(want) ?? 0)) out.push(`${res} ${kind} ${have} is below the profile's ${want}`)
    }
  }
  const grace = pod?.terminationGracePeriodSeconds ?? 30 // the API server's default when omitted
  if (grace < floor.drainSeconds) out.push(`terminationGracePeriodSeconds ${grace} is shorter than the ${floor.drainSeconds} s drain`)
  const nonRoot = c.securityContext?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot
  const uid = c.securityContext?.runAsUser ?? pod?.securityContext?.runAsUser
  if (!(nonRoot === true || (uid !== undefined && uid !== 0))) out.push('may run as root (runAsNonRoot not set)')
  if (c.securityContext?.readOnlyRootFilesystem !== true) out.push('readOnlyRootFilesystem not true')
  if (c.securityContext?.allowPrivilegeEscalation !== false) out.push('allowPrivilegeEscalation not false')
  if (c.securityContext?.privileged === true) out.push('privileged')
  return out
}
