// `closeout doctor` against the simulator's RBAC: with a token bound to exactly the least-privilege Role
// every gate is OK (exit 0); remove one verb and the doctor names it, the gates it blocks, and the exact
// rule to add (exit 2); a profile that does not load is exit 3. checkPermissions() is the same check
// as a function (what the harness calls to block gates before anything runs).

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EntraEnvInfo, workloadIdentityEnv } from '../../fixtures/local-env/entra-double.ts'
import { checkPermissions, roleRulesYaml } from '../../helpers/doctor.ts'
import { loadProfile } from '../../helpers/profile.ts'
import { loadRoleRules, type PolicyRule } from '../../helpers/rbac.ts'
import { envUp, node, ROOT, runnerProfile } from './_run.ts'

const TOKEN = 'closeout-doctor-sa-token-0123456789'
const tokensFile = join(ROOT, 'reports/local-env/tokens.json')
const rules = loadRoleRules(['role.yaml', 'clusterrole-namespace-reader.yaml'].map((f) => join(ROOT, 'deploy/k8s', f)))
let profile: string

function bind(r: PolicyRule[]): void {
  writeFileSync(
    tokensFile,
    JSON.stringify([{ token: TOKEN, user: 'system:serviceaccount:txlookup:closeout-runner', namespace: 'txlookup', rules: r }]),
  )
}
const without = (verb: string, resource: string) =>
  rules.map((r) => (r.resources.includes(resource) ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r)).filter((r) => r.verbs.length)
const doctor = (args: string[]) => node(['bin/doctor.ts', '--target', profile, '--no-azure', ...args])

describe('closeout doctor against the simulator', { timeout: 120_000 }, () => {
  beforeAll(() => {
    envUp([])
    profile = runnerProfile('doctor-', TOKEN)
  })
  afterAll(() => writeFileSync(tokensFile, '[]'))

  test('exactly the Role: every gate of every suite OK, exit 0', () => {
    bind(rules)
    const r = doctor([])
    expect(r.stdout, r.stderr).toContain('Every selected gate has what it needs.')
    expect(r.stdout).not.toContain('BLOCKED')
    expect(r.code).toBe(0)
  })

  test('the Role without watch on deployments: names the verb, the gate it blocks and the rule to add, exit 2', () => {
    bind(without('watch', 'deployments'))
    const r = doctor(['--tag', 'closeout'])
    expect(r.code).toBe(2)
    expect(r.stdout).toMatch(/^\s+BLOCKED consumer-rollout: missing watch on deployments\.apps$/m)
    expect(r.stdout).toMatch(/^\s+OK\s+baseline$/m)
    expect(r.stdout).toContain(['  - apiGroups: ["apps"]', '    resources: ["deployments"]', '    verbs: ["watch"]'].join('\n'))
    expect(r.stdout).toContain('deploy/k8s/role.yaml')
  })

  test('without create on pods/exec and get on the namespace: every exec gate and baseline, subresource and ClusterRole rules', async () => {
    bind(without('create', 'pods/exec').filter((r) => !r.resources.includes('namespaces')))
    const report = await checkPermissions(loadProfile(profile), ['baseline', 'consumer-db', 'smoke-404', 'migrate'], { azure: false })
    const missing = Object.fromEntries(
      report.gates.map((g) => [g.gate, g.missing.map((m) => `${m.verb} ${m.resource}${m.subresource ? `/${m.subresource}` : ''}`)]),
    )
    expect(missing).toEqual({
      baseline: ['get namespaces'],
      'consumer-db': ['create pods/exec'],
      'smoke-404': [],
      migrate: ['create pods/exec'],
    })
    const all = report.gates.flatMap((g) => g.missing)
    expect(roleRulesYaml(all.filter((m) => !m.clusterScoped))).toBe('- apiGroups: [""]\n  resources: ["pods/exec"]\n  verbs: ["create"]')
    expect(roleRulesYaml(all.filter((m) => m.clusterScoped))).toBe(
      '- apiGroups: [""]\n  resources: ["namespaces"]\n  resourceNames: ["txlookup"]\n  verbs: ["get"]',
    )
  })

  test('a revoked token: could not check (exit 2, the server named), an unknown tag or bad profile: exit 3', () => {
    writeFileSync(tokensFile, '[]')
    const r = doctor(['--tag', 'baseline'])
    expect(r.code).toBe(2)
    expect(r.stdout).toMatch(/could not check: .*127\.0\.0\.1:\d+.*401/)
    expect(doctor(['--tag', 'no-such-gate']).code).toBe(3)
    expect(node(['bin/doctor.ts', '--target', join(ROOT, 'fixtures/targets/nope.yaml')]).code).toBe(3)
  })

  test('the Azure side: a token per scope the selected gates sign in to (workload identity), a refused sign-in named with its scope', () => {
    const env = JSON.parse(readFileSync(join(ROOT, 'reports/local-env/env.json'), 'utf8')) as { entra: EntraEnvInfo; caFile: string }
    const wi = { ...workloadIdentityEnv(env.entra), NODE_EXTRA_CA_CERTS: env.caFile }
    const args = [
      'bin/doctor.ts',
      '--target',
      'fixtures/targets/local-workload-identity.yaml',
      '--tag',
      'consumer-lag',
      '--tag',
      'precheck',
      '--json',
    ]
    bind(rules)
    const ok = node(args, wi)
    const report = JSON.parse(ok.stdout) as { gates: { gate: string; azure: { scope: string; ok: boolean }[] }[] }
    expect(report.gates.flatMap((g) => g.azure)).toEqual([
      { service: 'log-analytics', scope: 'https://api.loganalytics.io/.default', ok: true },
      { service: 'arm', scope: 'https://management.azure.com/.default', ok: true },
    ])
    expect(ok.code).toBe(0)
    const refused = node(args.slice(0, -1), { ...wi, AZURE_CLIENT_ID: '00000000-0000-4000-8000-00000000dead' })
    expect(refused.code).toBe(2)
    // (helpers/entra.ts keeps the first line of the SDK's message: the AADSTS700016 of the chain's detail is not shown)
    expect(refused.stdout).toMatch(/BLOCKED consumer-lag: no token for https:\/\/api\.loganalytics\.io\/\.default: no Entra ID token/)
  })
})
