// What each gate needs of the cluster and of Azure before it can check anything, keyed by gate id
// (both suites' smoke-200 / smoke-404 share an id and the union of their needs). Derived from the
// calls the specs make through helpers/kube.ts (which verbs each call costs is KUBE_CALLS); the union
// over every gate is exactly deploy/k8s/role.yaml + clusterrole-namespace-reader.yaml (asserted by
// tests/unit/gate-permissions.test.ts, and the Role is proved sufficient and minimal by
// tests/e2e/rbac.test.ts). `closeout doctor` and checkPermissions() (helpers/doctor.ts) read it.
import type { TargetProfile } from './profile.ts'

/** one Kubernetes permission, as a SelfSubjectAccessReview's resourceAttributes ask it */
export interface KubePermission {
  verb: string
  /** '' = the core group */
  group: string
  resource: string
  subresource?: string
  /** cluster-scoped (namespaces): no namespace in the review, the profile's namespace as the name */
  clusterScoped?: boolean
}

const p = (verb: string, group: string, resource: string, subresource?: string, clusterScoped?: boolean): KubePermission => ({
  verb,
  group,
  resource,
  ...(subresource ? { subresource } : {}),
  ...(clusterScoped ? { clusterScoped } : {}),
})

/** the verbs each helpers/kube.ts call costs */
export const KUBE_CALLS = {
  readNamespace: [p('get', '', 'namespaces', undefined, true)],
  readDeployment: [p('get', 'apps', 'deployments')],
  readService: [p('get', '', 'services')],
  listPods: [p('list', '', 'pods')],
  listEvents: [p('list', '', 'events')],
  listNetworkPolicies: [p('list', 'networking.k8s.io', 'networkpolicies')],
  podLogs: [p('get', '', 'pods', 'log')],
  /** rollout status: the deployment, then a watch on it (kubectl rollout status does the same) */
  waitForRollout: [p('get', 'apps', 'deployments'), p('watch', 'apps', 'deployments')],
  /** exec into a Ready pod of a deployment: its selector, the pods, then the WebSocket upgrade (get + create since 1.31) */
  execInDeployment: [p('get', 'apps', 'deployments'), p('list', '', 'pods'), p('get', '', 'pods', 'exec'), p('create', '', 'pods', 'exec')],
  /** port-forward to a service's or a deployment's Ready pod */
  portForwardService: [
    p('get', '', 'services'),
    p('list', '', 'pods'),
    p('get', '', 'pods', 'portforward'),
    p('create', '', 'pods', 'portforward'),
  ],
  portForwardDeployment: [
    p('get', 'apps', 'deployments'),
    p('list', '', 'pods'),
    p('get', '', 'pods', 'portforward'),
    p('create', '', 'pods', 'portforward'),
  ],
  /** consumer-rollout's mutations (only with --allow-mutations): set image, bootstrap */
  setContainerImage: [p('patch', 'apps', 'deployments')],
  createDeployment: [p('create', 'apps', 'deployments')],
} satisfies Record<string, KubePermission[]>

/** the Azure services a gate signs in to (a token for its scope, when the profile uses DefaultAzureCredential) */
export type AzureService = 'log-analytics' | 'registry' | 'arm'

export interface GateNeeds {
  /** calls every run of the gate makes */
  kube: (keyof typeof KUBE_CALLS)[]
  /** the API over HTTP: a port-forward to its service unless api.access is direct */
  api?: boolean
  azure?: AzureService[]
  /** calls made only with --allow-mutations */
  mutations?: (keyof typeof KUBE_CALLS)[]
}

export const GATE_NEEDS: Record<string, GateNeeds> = {
  baseline: { kube: ['readNamespace', 'readDeployment', 'readService', 'listPods', 'listEvents'] },
  'consumer-rollout': {
    kube: ['readDeployment', 'waitForRollout'],
    azure: ['registry'],
    mutations: ['setContainerImage', 'createDeployment'],
  },
  'consumer-db': { kube: ['execInDeployment', 'podLogs'] },
  'consumer-eventhubs': { kube: ['execInDeployment', 'podLogs'] },
  'smoke-404': { kube: [], api: true },
  'smoke-200': { kube: ['execInDeployment'], api: true },
  'consumer-lag': { kube: [], azure: ['log-analytics'] },
  'consumer-freshness': { kube: [], azure: ['log-analytics'] },
  precheck: { kube: ['readNamespace', 'readDeployment', 'listPods'], azure: ['arm'] },
  migrate: { kube: ['execInDeployment'] },
  backfill: { kube: ['execInDeployment'], api: true },
  'sync-happy': { kube: ['execInDeployment'], api: true },
  idempotency: { kube: ['execInDeployment'], api: true },
  // the consumer's /health and /metrics are read through a port-forward to its deployment
  health: { kube: ['portForwardDeployment'], api: true },
  ready: { kube: [], api: true },
  metrics: { kube: ['portForwardDeployment'], api: true },
  'log-hygiene': { kube: ['readDeployment', 'listPods', 'podLogs'] },
  'workload-policy': { kube: ['readDeployment', 'listNetworkPolicies'] },
  'dlq-backlog': { kube: ['portForwardDeployment', 'execInDeployment'] },
  'event-ledger': { kube: ['execInDeployment'] },
}

/** The Kubernetes permissions one gate needs with this profile (deduplicated). */
export function kubePermissionsOf(gateId: string, profile: TargetProfile, o: { allowMutations?: boolean } = {}): KubePermission[] {
  const needs = GATE_NEEDS[gateId]
  if (!needs) return []
  const calls = [
    ...needs.kube,
    ...(needs.api && profile.api.access !== 'direct' ? (['portForwardService'] as const) : []),
    ...(o.allowMutations ? (needs.mutations ?? []) : []),
  ]
  const seen = new Map<string, KubePermission>()
  for (const perm of calls.flatMap((c) => KUBE_CALLS[c])) seen.set(permissionKey(perm), perm)
  return [...seen.values()]
}

export function permissionKey(x: KubePermission): string {
  return `${x.verb} ${x.group}/${x.resource}${x.subresource ? `/${x.subresource}` : ''}${x.clusterScoped ? ' (cluster)' : ''}`
}

/** The token scope of each Azure service the gate signs in to, when the profile signs in with
 * DefaultAzureCredential (a static token has nothing to acquire). */
export function azureScopesOf(gateId: string, profile: TargetProfile): { service: AzureService; scope: string }[] {
  const out: { service: AzureService; scope: string }[] = []
  for (const s of GATE_NEEDS[gateId]?.azure ?? []) {
    if (s === 'log-analytics' && profile.monitoring.source === 'azure-monitor' && profile.monitoring.azureMonitor?.credential === 'default')
      out.push({ service: s, scope: 'https://api.loganalytics.io/.default' })
    if (s === 'registry' && profile.consumer.registry?.kind === 'acr' && profile.consumer.registry.credential === 'default')
      out.push({ service: s, scope: 'https://containerregistry.azure.net/.default' })
    if (s === 'arm' && profile.aks?.credential === 'default') out.push({ service: s, scope: 'https://management.azure.com/.default' })
  }
  return out
}
