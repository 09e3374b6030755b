// Permissions before the run: for the selected gates, one SelfSubjectAccessReview per Kubernetes
// permission they need (helpers/gate-permissions.ts) as the runner's own identity, and an Entra ID
// token for each Azure scope they sign in to. `closeout doctor` prints the result with the exact Role
// rule to add; checkPermissions() is the same check for the harness, to block the affected gates
// before anything runs.

import type { TokenCredential } from '@azure/identity'
import * as k8s from '@kubernetes/client-node'
import { getEntraToken } from './entra.ts'
import { type AzureService, azureScopesOf, GATE_NEEDS, type KubePermission, kubePermissionsOf, permissionKey } from './gate-permissions.ts'
import { classifyKubeError, loadKubeConfig } from './kube.ts'
import type { TargetProfile } from './profile.ts'

export interface MissingPermission extends KubePermission {
  /** the namespace asked about (absent for cluster-scoped resources) */
  namespace?: string
  name?: string
}

export interface AzureScopeCheck {
  service: AzureService
  scope: string
  ok: boolean
  /** why no token could be had (never the token) */
  message?: string
}

export interface GatePermissionCheck {
  gate: string
  /** Kubernetes permissions the runner lacks (empty = all allowed) */
  missing: MissingPermission[]
  azure: AzureScopeCheck[]
}

export interface PermissionReport {
  server: string
  namespace: string
  gates: GatePermissionCheck[]
  /** the check itself could not run (API server unreachable, credentials rejected): nothing is known */
  error?: string
}

export interface CheckOptions {
  allowMutations?: boolean
  /** acquire a token per Azure scope (default true) */
  azure?: boolean
  /** for tests: the credential DefaultAzureCredential would be */
  credential?: TokenCredential
  /** a loaded kubeconfig instead of the profile's */
  kubeConfig?: k8s.KubeConfig
}

/** One SelfSubjectAccessReview: is the runner allowed this permission in the profile's namespace? */
async function reviewOne(api: k8s.AuthorizationV1Api, perm: KubePermission, namespace: string, timeoutMs: number): Promise<boolean> {
  const resourceAttributes: k8s.V1ResourceAttributes = perm.clusterScoped
    ? { verb: perm.verb, group: perm.group, resource: perm.resource, name: namespace }
    : {
        verb: perm.verb,
        group: perm.group,
        resource: perm.resource,
        namespace,
        ...(perm.subresource ? { subresource: perm.subresource } : {}),
      }
  const call = api.createSelfSubjectAccessReview({
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } },
  })
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`SelfSubjectAccessReview: no answer within ${timeoutMs} ms (aborted due to timeout)`)),
      timeoutMs,
    )
  })
  try {
    const r = await Promise.race([call, deadline])
    return r.status?.allowed === true
  } finally {
    clearTimeout(timer)
  }
}

/** a token for each scope, once per scope (a failure names the scope and what to do, never a token) */
async function checkScopes(
  scopes: { service: AzureService; scope: string }[],
  o: CheckOptions,
  timeoutMs: number,
): Promise<Map<string, AzureScopeCheck>> {
  const out = new Map<string, AzureScopeCheck>()
  await Promise.all(
    [...new Map(scopes.map((s) => [s.scope, s])).values()].map(async (s) => {
      try {
        await getEntraToken(s.scope, { credential: o.credential, timeoutMs })
        out.set(s.scope, { ...s, ok: true })
      } catch (e) {
        out.set(s.scope, { ...s, ok: false, message: (e as Error).message })
      }
    }),
  )
  return out
}

/**
 * Per selected gate, the Kubernetes permissions the runner lacks and the Azure scopes it cannot get a
 * token for. Never throws for an access problem: an unreachable API server or rejected credentials
 * come back as `error` (nothing known, every gate affected). Throws KubeConfigError for a kubeconfig
 * that cannot be loaded (a configuration error).
 */
export async function checkPermissions(profile: TargetProfile, gateIds: string[], o: CheckOptions = {}): Promise<PermissionReport> {
  const kc = o.kubeConfig ?? loadKubeConfig({ kubeconfig: profile.kube.kubeconfig || undefined, context: profile.kube.context })
  const namespace = profile.kube.namespace
  const server = kc.getCurrentCluster()?.server ?? '(unknown server)'
  const ids = [...new Set(gateIds)].filter((g) => GATE_NEEDS[g])
  const perGate = new Map(ids.map((g) => [g, kubePermissionsOf(g, profile, { allowMutations: o.allowMutations })]))
  const unique = new Map<string, KubePermission>()
  for (const perms of perGate.values()) for (const x of perms) unique.set(permissionKey(x), x)
  const api = kc.makeApiClient(k8s.AuthorizationV1Api)
  const allowed = new Map<string, boolean>()
  try {
    await Promise.all(
      [...unique].map(async ([key, perm]) => allowed.set(key, await reviewOne(api, perm, namespace, profile.kube.requestTimeoutMs))),
    )
  } catch (e) {
    const c = classifyKubeError(e, { server, what: 'SelfSubjectAccessReview', verb: 'create', resource: 'selfsubjectaccessreviews' })
    return { server, namespace, gates: ids.map((gate) => ({ gate, missing: [], azure: [] })), error: c.message }
  }
  const scopes =
    o.azure === false
      ? new Map<string, AzureScopeCheck>()
      : await checkScopes(
          ids.flatMap((g) => azureScopesOf(g, profile)),
          o,
          profile.monitoring.timeoutMs,
        )
  const gates = ids.map((gate) => ({
    gate,
    missing: (perGate.get(gate) ?? [])
      .filter((x) => !allowed.get(permissionKey(x)))
      .map((x) => ({ ...x, ...(x.clusterScoped ? { name: namespace } : { namespace }) })),
    azure: azureScopesOf(gate, profile).map((s) => scopes.get(s.scope) ?? { ...s, ok: true, message: 'not checked' }),
  }))
  return { server, namespace, gates }
}

/** The Role (or, for namespaces, ClusterRole) rules that grant the missing permissions, one rule per
 * group/resource with its verbs, as YAML to paste under `rules:`. */
export function roleRulesYaml(missing: MissingPermission[]): string {
  const rules = new Map<string, { group: string; resource: string; names?: string; verbs: Set<string> }>()
  for (const m of missing) {
    const resource = m.subresource ? `${m.resource}/${m.subresource}` : m.resource
    const key = `${m.group}|${resource}|${m.clusterScoped ? m.name : ''}`
    const r = rules.get(key) ?? { group: m.group, resource, names: m.clusterScoped ? m.name : undefined, verbs: new Set<string>() }
    r.verbs.add(m.verb)
    rules.set(key, r)
  }
  return [...rules.values()]
    .map((r) =>
      [
        `- apiGroups: ["${r.group}"]`,
        `  resources: ["${r.resource}"]`,
        ...(r.names ? [`  resourceNames: ["${r.names}"]`] : []),
        `  verbs: [${[...r.verbs]
          .sort()
          .map((v) => `"${v}"`)
          .join(', ')}]`,
      ].join('\n'),
    )
    .join('\n')
}

/** the doctor's verdict: 0 everything allowed, 2 something missing or not checkable */
export function doctorExitCode(r: PermissionReport): 0 | 2 {
  return r.error || r.gates.some((g) => g.missing.length || g.azure.some((a) => !a.ok)) ? 2 : 0
}

/** The report for a terminal: per gate OK or what is missing, then the rules to add. */
export function formatDoctorReport(r: PermissionReport): string {
  const lines = [`closeout doctor: ${r.server}, namespace ${r.namespace}`]
  if (r.error) return [...lines, `  could not check: ${r.error}`].join('\n')
  for (const g of r.gates) {
    const problems = [
      ...g.missing.map(
        (m) =>
          `missing ${m.verb} on ${m.subresource ? `${m.resource}/${m.subresource}` : m.resource}${m.group ? `.${m.group}` : ''}${m.clusterScoped ? ` "${m.name}" (cluster scope)` : ''}`,
      ),
      ...g.azure.filter((a) => !a.ok).map((a) => `no token for ${a.scope}: ${a.message}`),
    ]
    lines.push(`  ${problems.length ? 'BLOCKED' : 'OK     '} ${g.gate}${problems.length ? `: ${problems.join('; ')}` : ''}`)
  }
  const missing = r.gates.flatMap((g) => g.missing)
  const unique = [...new Map(missing.map((m) => [permissionKey(m), m])).values()]
  const namespaced = unique.filter((m) => !m.clusterScoped)
  const cluster = unique.filter((m) => m.clusterScoped)
  if (namespaced.length)
    lines.push(
      '',
      `Add to the Role's rules in namespace ${r.namespace} (deploy/k8s/role.yaml, closeout-runner):`,
      indent(roleRulesYaml(namespaced)),
    )
  if (cluster.length)
    lines.push(
      '',
      'Add to the ClusterRole bound to the runner (deploy/k8s/clusterrole-namespace-reader.yaml):',
      indent(roleRulesYaml(cluster)),
    )
  const azure = r.gates.flatMap((g) => g.azure.filter((a) => !a.ok))
  if (azure.length)
    lines.push(
      '',
      'Azure: sign the runner in (az login, workload identity or a managed identity for DefaultAzureCredential) with access to the scopes above.',
    )
  if (!unique.length && !azure.length) lines.push('', 'Every selected gate has what it needs.')
  return lines.join('\n')
}

const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')
