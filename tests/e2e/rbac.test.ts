// The in-cluster Role is sufficient and minimal: the closeout and readiness suites are GO with a token
// bound to exactly deploy/k8s's rules (the simulator enforces them), and removing any one verb makes
// some gate ENVIRONMENT_BLOCKED.

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { loadRoleRules, type PolicyRule, withoutEachVerb } from '../../helpers/rbac.ts'
import { envUp, ROOT, runGates, runnerProfile } from './_run.ts'

const TOKEN = 'closeout-runner-sa-token-0123456789'
const tokensFile = join(ROOT, 'reports/local-env/tokens.json')
const rules = loadRoleRules(['role.yaml', 'clusterrole-namespace-reader.yaml'].map((f) => join(ROOT, 'deploy/k8s', f)))
let profile: string

/** the Role's rules through a RoleBinding in txlookup (nothing at the cluster scope but the
 * namespace reads of the ClusterRole), as the simulator models a namespaced binding */
function bind(r: PolicyRule[]): void {
  writeFileSync(
    tokensFile,
    JSON.stringify([{ token: TOKEN, user: 'system:serviceaccount:txlookup:closeout-runner', namespace: 'txlookup', rules: r }]),
  )
}

describe('least-privilege Role (deploy/k8s) against the simulator', { timeout: 600_000 }, () => {
  beforeAll(() => {
    envUp([])
    profile = runnerProfile('rbac-', TOKEN)
  })
  afterAll(() => writeFileSync(tokensFile, '[]'))

  test('sufficient: closeout + readiness are GO with exactly the Role', () => {
    bind(rules)
    const r = runGates(['--tag', 'closeout', '--tag', 'readiness', '--target', profile])
    expect(r.summary.gates.filter((g) => g.status !== 'passed')).toEqual([])
    expect(r.code).toBe(0)
    // the plan's `get pods -A` is beyond the Role: noted in the baseline, never a failure
    expect(readFileSync(join(r.summary.bundles.closeout, '01_aks_namespace_state.log'), 'utf8')).toContain(
      'not permitted: the runner may list pods only in its namespace',
    )
  })

  test('no Role at all: ENVIRONMENT_BLOCKED (403 named in the reason)', () => {
    bind([])
    const r = runGates(['--tag', 'closeout', '--target', profile])
    expect(r.code).toBe(2)
    expect(r.summary.gates[0]).toMatchObject({ id: 'baseline', classification: 'ENVIRONMENT_BLOCKED' })
    // the preflight's access reviews name what is missing and the Role rules to add, before any 403
    expect(r.summary.gates[0].reason).toMatch(/may not get namespaces.*add these rules/s)
  })

  for (const variant of withoutEachVerb(rules)) {
    test(`minimal: without "${variant.removed}" some gate is ENVIRONMENT_BLOCKED`, () => {
      bind(variant.rules)
      const r = runGates(['--tag', 'closeout', '--tag', 'readiness', '--target', profile])
      const blocked = r.summary.gates.filter((g) => g.classification === 'ENVIRONMENT_BLOCKED')
      expect(blocked.length, JSON.stringify(r.summary.gates.map((g) => [g.id, g.status, g.classification]))).toBeGreaterThan(0)
      expect(r.code).not.toBe(0)
    })
  }
})
