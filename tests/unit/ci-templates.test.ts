// The CI templates as GitHub Actions and Azure Pipelines read them (parsed with `yaml`, not run here):
// manual inputs, OIDC login + kubelogin, the gates run with --tag and their exit code captured,
// artifacts published whatever the decision, and the job's conclusion following the exit code.
import { describe, test, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

const root = new URL('../../', import.meta.url).pathname
const read = (f: string) => readFileSync(root + f, 'utf8')

interface GhStep {
  name?: string
  id?: string
  if?: string
  run?: string
  uses?: string
  with?: Record<string, string>
  env?: Record<string, string>
}
interface AzStep {
  task?: string
  bash?: string
  name?: string
  displayName?: string
  condition?: string
  inputs?: Record<string, string>
  env?: Record<string, string>
}

/** the shell lines that run the suite: `./closeout test` with one --tag per requested tag */
function expectTaggedTestRun(script: string, tagsVar: string): void {
  expect(script).toMatch(new RegExp(`for t in \\$${tagsVar}; do args\\+=\\(--tag "\\$t"\\); done`))
  expect(script).toMatch(/\.\/closeout test "\$\{args\[@\]\}" --target "\$\w+"/)
  // the exit code is captured, not allowed to stop the job before the artifacts are published
  expect(script).toMatch(/^set \+e$/m)
  expect(script).toMatch(/code=\$\?/)
}

describe('GitHub Actions: .github/workflows/closeout.yml', () => {
  const wf = parse(read('.github/workflows/closeout.yml')) as {
    on: { workflow_dispatch: { inputs: Record<string, { required?: boolean }> } }
    permissions: Record<string, string>
    jobs: Record<string, { steps: GhStep[]; env?: Record<string, string> }>
  }
  const job = Object.values(wf.jobs)[0]
  const steps = job.steps
  const idx = (p: (s: GhStep) => boolean) => steps.findIndex(p)

  test('manual dispatch with target and tags inputs; OIDC permission', () => {
    expect(Object.keys(wf.on)).toEqual(['workflow_dispatch'])
    expect(wf.on.workflow_dispatch.inputs).toHaveProperty('target')
    expect(wf.on.workflow_dispatch.inputs).toHaveProperty('tags')
    expect(wf.permissions['id-token']).toBe('write')
  })

  test('azure/login (OIDC, no client secret) → setup-kubectl → use-kubelogin → get-credentials + convert-kubeconfig, before the gates', () => {
    const login = idx((s) => /^azure\/login@/i.test(s.uses ?? ''))
    const kubectl = idx((s) => /^azure\/setup-kubectl@/i.test(s.uses ?? ''))
    const kubelogin = idx((s) => /^azure\/use-kubelogin@/i.test(s.uses ?? ''))
    const creds = idx((s) => /az aks get-credentials[\s\S]*kubelogin convert-kubeconfig -l azurecli/.test(s.run ?? ''))
    const gates = idx((s) => /\.\/closeout test/.test(s.run ?? ''))
    for (const i of [login, kubectl, kubelogin, creds, gates]) expect(i).toBeGreaterThanOrEqual(0)
    expect(login).toBeLessThan(creds)
    expect(kubelogin).toBeLessThan(creds)
    expect(creds).toBeLessThan(gates)
    expect(steps[login].with).toHaveProperty('client-id')
    expect(steps[login].with).not.toHaveProperty('creds')
  })

  test('the gates run with --tag per input tag; the exit code becomes a step output; inputs are not spliced into scripts', () => {
    const gates = steps.find((s) => /\.\/closeout test/.test(s.run ?? ''))!
    expect(gates.id).toBeTruthy()
    expectTaggedTestRun(gates.run!, 'TAGS')
    expect(gates.run).toMatch(/echo "exit_code=\$code" >> "\$GITHUB_OUTPUT"/)
    expect(job.env?.TAGS).toBe('${{ inputs.tags }}')
    expect(job.env?.TARGET).toBe('${{ inputs.target }}')
    for (const s of steps) expect(s.run ?? '').not.toContain('${{ inputs.')
  })

  test('report rendered and report + evidence + latest + junit uploaded with if: always()', () => {
    const report = steps.find((s) => /\.\/closeout report --single-file/.test(s.run ?? ''))
    expect(report?.if).toBe('always()')
    const uploads = steps.filter((s) => /^actions\/upload-artifact@/.test(s.uses ?? ''))
    expect(uploads.length).toBeGreaterThanOrEqual(2)
    for (const u of uploads) expect(u.if, u.name).toBe('always()')
    const paths = uploads.flatMap((u) => (u.with?.path ?? '').split('\n').map((p) => p.trim()).filter(Boolean))
    expect(paths).toEqual(expect.arrayContaining(['reports/allure-report', 'reports/evidence', 'reports/latest', 'reports/junit.xml']))
  })

  test('the decision goes to the job summary; the last step fails the job unless the exit code is 0', () => {
    const summary = steps.find((s) => /GITHUB_STEP_SUMMARY/.test(s.run ?? ''))
    expect(summary?.if).toBe('always()')
    expect(summary?.run).toContain('reports/latest/summary.json')
    expect(summary?.run).toContain('s.decision')
    const last = steps[steps.length - 1]
    const gatesId = steps.find((s) => /\.\/closeout test/.test(s.run ?? ''))!.id
    expect(last.if).toBe('always()')
    expect(last.env?.CODE).toBe(`\${{ steps.${gatesId}.outputs.exit_code }}`)
    expect(last.run).toMatch(/test "\$CODE" = "0"/)
  })
})

describe('Azure Pipelines: ci/azure-pipelines.yml', () => {
  const p = parse(read('ci/azure-pipelines.yml')) as {
    trigger: string
    parameters: { name: string }[]
    jobs: { steps: AzStep[] }[]
  }
  const steps = p.jobs[0].steps

  test('manual, with target and tags parameters', () => {
    expect(p.trigger).toBe('none')
    expect(p.parameters.map((x) => x.name)).toEqual(expect.arrayContaining(['target', 'tags']))
  })

  test('AzureCLI@2 gets kubelogin credentials and runs the gates with --tag, recording the exit code and exiting 0', () => {
    const cli = steps.find((s) => s.task === 'AzureCLI@2')!
    expect(cli.inputs?.azureSubscription).toBeTruthy()
    const script = cli.inputs?.inlineScript ?? ''
    expect(script).toMatch(/az aks get-credentials[\s\S]*kubelogin convert-kubeconfig -l azurecli[\s\S]*\.\/closeout test/)
    expectTaggedTestRun(script, 'CLOSEOUT_TAGS')
    expect(cli.env?.CLOSEOUT_TAGS).toBe('${{ parameters.tags }}')
    expect(script).toContain('##vso[task.setvariable variable=closeoutExitCode]$code')
    expect(script).toMatch(/\.\/closeout report --single-file/)
    expect(script.trim().split('\n').at(-1)).toBe('exit 0')
  })

  test('PublishTestResults@2 (JUnit reports/junit.xml) and PublishPipelineArtifact@1 run with condition always()', () => {
    const junit = steps.filter((s) => s.task === 'PublishTestResults@2')
    expect(junit).toHaveLength(1)
    expect(junit[0].condition).toBe('always()')
    expect(junit[0].inputs).toMatchObject({ testResultsFormat: 'JUnit', testResultsFiles: 'reports/junit.xml' })
    const arts = steps.filter((s) => s.task === 'PublishPipelineArtifact@1')
    for (const a of arts) expect(a.condition, a.displayName).toBe('always()')
    expect(arts.map((a) => a.inputs?.targetPath)).toEqual(expect.arrayContaining(['reports/allure-report', 'reports/evidence', 'reports/latest']))
  })

  test('the last step (always) fails the job unless the recorded exit code is 0', () => {
    const last = steps[steps.length - 1]
    expect(last.condition).toBe('always()')
    expect(last.env?.CODE).toBe('$(closeoutExitCode)')
    expect(last.bash).toMatch(/test "\$CODE" = "0"/)
  })
})
