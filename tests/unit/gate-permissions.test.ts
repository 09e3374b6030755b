// The gate → permissions map (helpers/gate-permissions.ts) against the catalogue and the shipped RBAC:
// every gate has an entry, and the union of what the gates need is exactly deploy/k8s's Role and
// ClusterRole (and role-mutations.yaml with --allow-mutations) — so the doctor's answer and the Role
// the Job gets cannot drift apart.

import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { loadCatalog } from '../../helpers/catalog.ts'
import { roleRulesYaml } from '../../helpers/doctor.ts'
import { azureScopesOf, GATE_NEEDS, kubePermissionsOf } from '../../helpers/gate-permissions.ts'
import { loadProfile } from '../../helpers/profile.ts'
import { loadRoleRules } from '../../helpers/rbac.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const profile = loadProfile(join(ROOT, 'fixtures/targets/local.yaml'), {})
const triples = (files: string[]) =>
  new Set(
    loadRoleRules(files.map((f) => join(ROOT, 'deploy/k8s', f))).flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`))),
    ),
  )
const needed = (o: { allowMutations?: boolean } = {}, p = profile) =>
  new Set(
    Object.keys(GATE_NEEDS).flatMap((g) =>
      kubePermissionsOf(g, p, o).map((x) => `${x.verb} ${x.group}/${x.resource}${x.subresource ? `/${x.subresource}` : ''}`),
    ),
  )

describe('gate permissions', () => {
  test('every gate of the catalogue has an entry, and nothing else does', async () => {
    const ids = [...new Set((await loadCatalog(ROOT)).map((g) => g.id))].sort()
    expect(Object.keys(GATE_NEEDS).sort()).toEqual(ids)
  })
  test("the union of the gates' needs is exactly the Role + namespace-reader ClusterRole", () => {
    expect([...needed()].sort()).toEqual([...triples(['role.yaml', 'clusterrole-namespace-reader.yaml'])].sort())
  })
  test('with --allow-mutations the extra needs are exactly role-mutations.yaml', () => {
    const extra = [...needed({ allowMutations: true })].filter((x) => !needed().has(x)).sort()
    expect(extra).toEqual([...triples(['mutations/role-mutations.yaml'])].sort())
  })
  test('api.access direct needs no port-forward; static tokens need no Azure scope, DefaultAzureCredential does', () => {
    const direct = { ...profile, api: { ...profile.api, access: 'direct' as const } }
    expect(kubePermissionsOf('smoke-404', direct)).toEqual([])
    expect(
      kubePermissionsOf('smoke-404', profile).map((p) => `${p.verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ''}`),
    ).toEqual(['get services', 'list pods', 'get pods/portforward', 'create pods/portforward'])
    expect(azureScopesOf('consumer-lag', profile)).toEqual([])
    const wi = loadProfile(join(ROOT, 'fixtures/targets/local-workload-identity.yaml'), {})
    expect(azureScopesOf('consumer-lag', wi)).toEqual([{ service: 'log-analytics', scope: 'https://api.loganalytics.io/.default' }])
    expect(azureScopesOf('consumer-rollout', wi)).toEqual([{ service: 'registry', scope: 'https://containerregistry.azure.net/.default' }])
    expect(azureScopesOf('precheck', wi)).toEqual([{ service: 'arm', scope: 'https://management.azure.com/.default' }])
  })
  test('the rule to add groups verbs per resource', () => {
    expect(
      roleRulesYaml([
        { verb: 'watch', group: 'apps', resource: 'deployments' },
        { verb: 'get', group: 'apps', resource: 'deployments' },
      ]),
    ).toBe('- apiGroups: ["apps"]\n  resources: ["deployments"]\n  verbs: ["get", "watch"]')
  })
})
