// CI templates, the Dockerfile, the RBAC manifests and the Job renderer, as the tools that consume
// them would read them (no Docker engine or cluster here: parsed, not run).
import { describe, test, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { parse, parseAllDocuments } from 'yaml'
import { renderJob, JobUsageError } from '../../bin/job.ts'
import { loadRoleRules } from '../../helpers/rbac.ts'

const root = new URL('../../', import.meta.url).pathname
const read = (f: string) => readFileSync(root + f, 'utf8')
type Step = { name?: string; displayName?: string; if?: string; condition?: string; run?: string; uses?: string; task?: string; bash?: string; inputs?: Record<string, string>; with?: Record<string, string> }

describe('GitHub Actions workflow', () => {
  const wf = parse(read('.github/workflows/closeout.yml')) as { on: { workflow_dispatch: { inputs: Record<string, unknown> } }; permissions: Record<string, string>; jobs: { closeout: { steps: Step[] } } }
  const steps = wf.jobs.closeout.steps
  test('manual dispatch with target and tags, OIDC login, kubelogin', () => {
    expect(Object.keys(wf.on.workflow_dispatch.inputs)).toEqual(expect.arrayContaining(['target', 'tags']))
    expect(wf.permissions['id-token']).toBe('write')
    expect(steps.some((s) => s.uses?.startsWith('azure/login@'))).toBe(true)
    expect(steps.some((s) => /kubelogin convert-kubeconfig -l azurecli/.test(s.run ?? ''))).toBe(true)
  })
  test('the test command uses --tag and records the exit code without stopping the job', () => {
    const run = steps.find((s) => s.name === 'Run gates')?.run ?? ''
    expect(run).toMatch(/\.\/closeout test "\$\{args\[@\]\}" --target/)
    expect(run).toContain('args+=(--tag "$t")')
    expect(run).toContain('set +e')
    expect(run).toContain('exit_code=$?')
  })
  test('report and evidence are uploaded whatever the decision; the conclusion follows the exit code', () => {
    const uploads = steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@'))
    expect(uploads.length).toBeGreaterThanOrEqual(2)
    for (const u of uploads) expect(u.if).toBe('always()')
    expect(uploads.map((u) => u.with?.path).join('\n')).toMatch(/reports\/allure-report[\s\S]*reports\/evidence/)
    const last = steps[steps.length - 1]
    expect(last.if).toBe('always()')
    expect(last.run).toMatch(/test "\$code" = "0"/)
    expect(steps.some((s) => /GITHUB_STEP_SUMMARY/.test(s.run ?? '') && s.if === 'always()')).toBe(true)
  })
})

describe('Azure Pipelines template', () => {
  const p = parse(read('ci/azure-pipelines.yml')) as { jobs: { steps: Step[] }[] }
  const steps = p.jobs[0].steps
  test('runs the gates with --tag, publishes JUnit and artifacts always, fails unless GO', () => {
    const run = steps.find((s) => s.task === 'AzureCLI@2')?.inputs?.inlineScript ?? ''
    expect(run).toContain('args+=(--tag "$t")')
    expect(run).toContain('kubelogin convert-kubeconfig -l azurecli')
    const junit = steps.find((s) => s.task === 'PublishTestResults@2')
    expect(junit?.condition).toBe('always()')
    expect(junit?.inputs?.testResultsFiles).toBe('reports/junit.xml')
    const arts = steps.filter((s) => s.task === 'PublishPipelineArtifact@1')
    expect(arts.map((a) => a.inputs?.targetPath)).toEqual(['reports/allure-report', 'reports/evidence'])
    for (const a of arts) expect(a.condition).toBe('always()')
    const last = steps[steps.length - 1]
    expect(last.condition).toBe('always()')
    expect(last.bash).toMatch(/test "\$\(closeoutExitCode\)" = "0"/)
  })
})

describe('Dockerfile', () => {
  const df = read('deploy/Dockerfile')
  test('multi-stage, Node 24 slim, production deps only, non-root, decision as exit code', () => {
    expect(df.match(/^FROM /gm)?.length).toBe(2)
    expect(df).toMatch(/^FROM node:24-slim AS runtime/m)
    expect(df).toMatch(/pnpm install --prod --frozen-lockfile/)
    expect(df).toMatch(/^USER 10001/m)
    expect(df).toMatch(/^ENTRYPOINT \["node", "bin\/test\.ts"\]/m)
    expect(df).not.toMatch(/COPY (\.|tests|fixtures\/local-env)\b/)
  })
})

describe('RBAC manifests', () => {
  test('the runner Role holds exactly the verbs the suites use', () => {
    const rules = loadRoleRules([root + 'deploy/k8s/role.yaml', root + 'deploy/k8s/clusterrole-namespace-reader.yaml'])
    const flat = rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${r.apiGroups.join(',') || 'core'}/${res}:${v}`))).sort()
    expect(flat).toEqual(
      [
        'apps/deployments:get',
        'apps/deployments:watch',
        'core/events:list',
        'core/namespaces:get',
        'core/pods/exec:create',
        'core/pods/log:get',
        'core/pods/portforward:create',
        'core/pods:list',
        'core/services:get',
        'networking.k8s.io/networkpolicies:list',
      ].sort(),
    )
    expect(rules.find((r) => r.resources.includes('namespaces'))?.resourceNames).toEqual(['txlookup'])
  })
  test('mutations live in a separate Role; no secrets access anywhere', () => {
    const m = loadRoleRules([root + 'deploy/k8s/role-mutations.yaml'])
    expect(m).toEqual([{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['patch', 'create'] }])
    const all = loadRoleRules(['role.yaml', 'role-mutations.yaml', 'clusterrole-namespace-reader.yaml'].map((f) => root + 'deploy/k8s/' + f))
    expect(all.some((r) => r.resources.includes('secrets'))).toBe(false)
  })
})

describe('job render', () => {
  const docs = () => parseAllDocuments(renderJob({ target: root + 'fixtures/targets/aks-dev.yaml', tags: ['closeout', 'readiness'], image: 'acr.example/closeout:1.2.3', now: new Date('2026-11-22T10:00:00Z') })).map((d) => d.toJS())
  test('ConfigMap with the profile + a Job running the suite as the least-privilege ServiceAccount', () => {
    const [cm, job] = docs()
    expect(cm.kind).toBe('ConfigMap')
    expect(cm.data['aks-dev.yaml']).toBe(read('fixtures/targets/aks-dev.yaml'))
    expect(job.kind).toBe('Job')
    expect(job.spec.backoffLimit).toBe(0)
    const pod = job.spec.template.spec
    expect(pod.serviceAccountName).toBe('closeout-runner')
    expect(pod.restartPolicy).toBe('Never')
    expect(pod.securityContext.runAsNonRoot).toBe(true)
    expect(pod.containers[0].image).toBe('acr.example/closeout:1.2.3')
    expect(pod.containers[0].args).toEqual(['--tag', 'closeout', '--tag', 'readiness', '--target', '/app/fixtures/targets/in-cluster/aks-dev.yaml'])
    expect(pod.containers[0].securityContext.readOnlyRootFilesystem).toBe(true)
    expect(pod.volumes.find((v: { name: string }) => v.name === 'target').configMap.name).toBe(cm.metadata.name)
    expect(pod.volumes.find((v: { name: string }) => v.name === 'reports').persistentVolumeClaim.claimName).toBe('closeout-reports')
  })
  test('bad input is a usage error', () => {
    expect(() => renderJob({ target: root + 'fixtures/targets/aks-dev.yaml', tags: [] })).toThrow(JobUsageError)
    expect(() => renderJob({ target: '/nope.yaml', tags: ['closeout'] })).toThrow(/does not exist/)
  })
})
