// deploy/k8s RBAC as the API server would read it: the runner Role holds exactly the verbs the suites
// use through helpers/kube.ts, mutations are a separate Role, namespaces are a name-limited ClusterRole,
// and everything binds the closeout-runner ServiceAccount. (No cluster here: parsed, not applied.)

import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { loadRoleRules, type PolicyRule } from '../../helpers/rbac.ts'

const k8sDir = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url))
type Obj = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are open YAML
const docs = (f: string): Obj[] =>
  parseAllDocuments(readFileSync(k8sDir + f, 'utf8'))
    .map((d) => d.toJS() as Obj)
    .filter(Boolean)
/** "group/resource:verb" triples ("core" for the core group), sorted */
const flat = (rules: PolicyRule[]) =>
  rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${r.apiGroups.join(',') || 'core'}/${res}:${v}`))).sort()

describe('runner Role (deploy/k8s/role.yaml)', () => {
  const rules = loadRoleRules([k8sDir + 'role.yaml'])
  test('exactly the verbs and resources the suites use', () => {
    expect(flat(rules)).toEqual(
      [
        'apps/deployments:get', // baseline / precheck / rollout: read the deployment
        'apps/deployments:watch', // rollout status on a watch
        'core/pods:list', // snapshots; a deployment's pods by selector
        'core/services:get', // the API service (port-forward target)
        'core/events:list', // baseline snapshot, diagnostics
        'core/pods/log:get', // log tail, PII scan
        'core/pods/exec:create', // WebSocket exec: create (Kubernetes >= 1.35) …
        'core/pods/exec:get', // … and get (every version)
        'core/pods/portforward:create',
        'core/pods/portforward:get',
        'networking.k8s.io/networkpolicies:list', // readiness workload-policy
      ].sort(),
    )
  })
  test('no wildcards, no secrets, no writes', () => {
    for (const r of rules) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*')
      expect(r.resources).not.toContain('secrets')
    }
    const writes = flat(rules).filter(
      (x) => /:(patch|update|delete|deletecollection)$/.test(x) || (/:create$/.test(x) && !/pods\/(exec|portforward):/.test(x)),
    )
    expect(writes).toEqual([])
  })
  test('a namespaced Role named closeout-runner', () => {
    const [role] = docs('role.yaml')
    expect(role).toMatchObject({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'closeout-runner', namespace: 'txlookup' },
    })
  })
})

describe('namespace reader, mutations, bindings', () => {
  test('namespaces: get on the one namespace, through a ClusterRole + ClusterRoleBinding to the runner', () => {
    const rules = loadRoleRules([k8sDir + 'clusterrole-namespace-reader.yaml'])
    expect(rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], resourceNames: ['txlookup'], verbs: ['get'] }])
    const binding = docs('clusterrole-namespace-reader.yaml').find((d) => d.kind === 'ClusterRoleBinding')!
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: 'closeout-namespace-reader' })
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'closeout-runner', namespace: 'txlookup' }])
  })
  test('mutations (set image / bootstrap the consumer) are a separate Role: deployments patch + create only', () => {
    expect(loadRoleRules([k8sDir + 'mutations/role-mutations.yaml'])).toEqual([
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['patch', 'create'] },
    ])
    const [role] = docs('mutations/role-mutations.yaml')
    expect(role.metadata.name).not.toBe('closeout-runner')
  })
  test('the RoleBinding binds the runner Role to the closeout-runner ServiceAccount', () => {
    const [sa] = docs('serviceaccount.yaml')
    expect(sa).toMatchObject({ kind: 'ServiceAccount', metadata: { name: 'closeout-runner', namespace: 'txlookup' } })
    const [rb] = docs('rolebinding.yaml')
    expect(rb).toMatchObject({
      kind: 'RoleBinding',
      roleRef: { kind: 'Role', name: 'closeout-runner' },
      subjects: [{ kind: 'ServiceAccount', name: 'closeout-runner', namespace: 'txlookup' }],
    })
  })
  test('loadRoleRules: Roles and ClusterRoles only, from multi-document files', () => {
    const all = loadRoleRules(
      ['role.yaml', 'mutations/role-mutations.yaml', 'clusterrole-namespace-reader.yaml', 'rolebinding.yaml', 'serviceaccount.yaml'].map(
        (f) => k8sDir + f,
      ),
    )
    expect(all).toHaveLength(loadRoleRules([k8sDir + 'role.yaml']).length + 2)
    expect(all.some((r) => r.resources.includes('secrets'))).toBe(false)
  })
})
