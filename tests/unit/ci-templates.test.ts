// The CI templates as GitHub Actions and Azure Pipelines read them (parsed with `yaml`, not run here):
// manual inputs (target, tags, run id, T_CUTOVER, --allow-mutations), the image built with `az acr build`
// and run as the in-cluster Job from its digest (ci/in-cluster.sh, tested on its own), OIDC login +
// pinned kubelogin, the gates run with --tag and their exit code captured, the Allure history restored
// and saved, artifacts (and the SBOM) published whatever the decision, the decision as the job / build
// summary, the optional report publishing, and the job's conclusion following the exit code.

import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { parse } from 'yaml'

const root = fileURLToPath(new URL('../../', import.meta.url))
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
    jobs: Record<
      string,
      {
        steps: GhStep[]
        env?: Record<string, string>
        needs?: string
        if?: string
        outputs?: Record<string, string>
        permissions?: Record<string, string>
      }
    >
  }
  const job = wf.jobs.closeout
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

  test('inputs for the run id, T_CUTOVER, --allow-mutations, the mode and report publishing reach the run through env', () => {
    const inputs = wf.on.workflow_dispatch.inputs
    for (const k of ['run_id', 't_cutover', 'allow_mutations', 'mode', 'publish_report']) expect(inputs).toHaveProperty(k)
    expect(job.env).toMatchObject({
      RUN_ID: '${{ inputs.run_id }}',
      T_CUTOVER: '${{ inputs.t_cutover }}',
      ALLOW_MUTATIONS: '${{ inputs.allow_mutations }}',
      IMAGE: '${{ needs.image.outputs.image }}',
    })
    const gates = steps.find((s) => /\.\/closeout test/.test(s.run ?? ''))!
    expect(gates.run).toContain('[ -n "$RUN_ID" ] && args+=(--run-id "$RUN_ID")')
    expect(gates.run).toContain('[ "$ALLOW_MUTATIONS" = "true" ] && args+=(--allow-mutations)')
  })

  test('the image: az acr build -f deploy/Dockerfile, its digest is the output; the Job runs from it (ci/in-cluster.sh)', () => {
    const image = wf.jobs.image
    const build = image.steps.find((s) => /az acr build/.test(s.run ?? ''))!
    expect(build.run).toMatch(/az acr build -r "\$ACR" -f deploy\/Dockerfile /)
    expect(build.run).toMatch(/az acr repository show .*--query digest/)
    expect(build.run).toMatch(/echo "image=\$server\/closeout@\$digest" >> "\$GITHUB_OUTPUT"/)
    expect(image.outputs?.image).toBe(`\${{ steps.${build.id}.outputs.image }}`)
    expect(job.needs).toBe('image')
    const gates = steps.find((s) => /\.\/closeout test/.test(s.run ?? ''))!
    expect(gates.run).toMatch(/if \[ "\$MODE" = "in-cluster" \]; then\n\s+ci\/in-cluster\.sh\n\s+code=\$\?/)
    // the SBOM of the image's node_modules is generated and attached
    const sbom = image.steps.findIndex((s) => /\.\/closeout sbom/.test(s.run ?? ''))
    expect(sbom).toBeGreaterThan(0)
    expect(
      image.steps.slice(sbom).some((s) => /^actions\/upload-artifact@/.test(s.uses ?? '') && /\.cdx\.json$/.test(s.with?.path ?? '')),
    ).toBe(true)
  })

  test('the Allure history is restored before the gates and saved after the report, at CLOSEOUT_HISTORY_PATH', () => {
    const restore = idx((s) => /^actions\/cache\/restore@/.test(s.uses ?? ''))
    const save = idx((s) => /^actions\/cache\/save@/.test(s.uses ?? ''))
    const gates = idx((s) => /\.\/closeout test/.test(s.run ?? ''))
    const report = idx((s) => /\.\/closeout report/.test(s.run ?? ''))
    expect(restore).toBeGreaterThanOrEqual(0)
    expect(restore).toBeLessThan(gates)
    expect(save).toBeGreaterThan(report)
    expect(steps[save].if).toBe('always()')
    expect(job.env?.CLOSEOUT_HISTORY_PATH).toBe(`${steps[restore].with?.path}/allure-history.jsonl`)
    expect(steps[save].with?.path).toBe(steps[restore].with?.path)
    expect(steps[restore].with?.['restore-keys']).toBeTruthy()
  })

  test('optional GitHub Pages publishing of the rendered report, linked from the job summary', () => {
    const pagesArtifact = steps.find((s) => /^actions\/upload-pages-artifact@/.test(s.uses ?? ''))!
    expect(pagesArtifact.if).toMatch(/inputs\.publish_report/)
    expect(pagesArtifact.with?.path).toBe('reports/allure-report')
    const pub = wf.jobs['publish-report']
    expect(pub.if).toMatch(/inputs\.publish_report/)
    expect(pub.permissions).toMatchObject({ pages: 'write', 'id-token': 'write' })
    const deploy = pub.steps.find((s) => /^actions\/deploy-pages@/.test(s.uses ?? ''))!
    expect(
      pub.steps.some((s) => /GITHUB_STEP_SUMMARY/.test(s.run ?? '') && s.env?.URL === `\${{ steps.${deploy.id}.outputs.page_url }}`),
    ).toBe(true)
    expect(steps.find((s) => /GITHUB_STEP_SUMMARY/.test(s.run ?? ''))!.run).toContain('--report-url')
  })

  test('the gates run with --tag per input tag; the exit code becomes a step output; inputs are not spliced into scripts', () => {
    const gates = steps.find((s) => /\.\/closeout test/.test(s.run ?? ''))!
    expect(gates.id).toBeTruthy()
    expectTaggedTestRun(gates.run!, 'TAGS')
    expect(gates.run).toMatch(/echo "exit_code=\$code" >> "\$GITHUB_OUTPUT"/)
    expect(job.env?.TAGS).toBe('${{ inputs.tags }}')
    expect(job.env?.TARGET).toBe('${{ inputs.target }}')
    for (const s of Object.values(wf.jobs).flatMap((j) => j.steps)) expect(s.run ?? '').not.toContain('${{ inputs.')
  })

  test('report rendered and report + evidence + latest + junit uploaded with if: always()', () => {
    const report = steps.find((s) => /\.\/closeout report --single-file/.test(s.run ?? ''))
    expect(report?.if).toBe('always()')
    const uploads = steps.filter((s) => /^actions\/upload-artifact@/.test(s.uses ?? ''))
    expect(uploads.length).toBeGreaterThanOrEqual(2)
    for (const u of uploads) expect(u.if, u.name).toBe('always()')
    const paths = uploads.flatMap((u) =>
      (u.with?.path ?? '')
        .split('\n')
        .map((p) => p.trim())
        .filter(Boolean),
    )
    expect(paths).toEqual(expect.arrayContaining(['reports/allure-report', 'reports/evidence', 'reports/latest', 'reports/junit.xml']))
  })

  test('the decision goes to the job summary; the last step fails the job unless the exit code is 0', () => {
    const summary = steps.find((s) => /GITHUB_STEP_SUMMARY/.test(s.run ?? ''))
    expect(summary?.if).toBe('always()')
    expect(summary?.run).toContain('ci/decision-summary.ts reports/latest/summary.json')
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

  const gatesStep = () => steps.find((s) => s.task === 'AzureCLI@2' && s.name === 'gates')!
  test('parameters for the run id, T_CUTOVER, --allow-mutations, the mode, report publishing', () => {
    expect(p.parameters.map((x) => x.name)).toEqual(
      expect.arrayContaining(['runId', 'tCutover', 'allowMutations', 'mode', 'publishReport']),
    )
    expect(gatesStep().env).toMatchObject({
      RUN_ID: '${{ parameters.runId }}',
      T_CUTOVER: '${{ parameters.tCutover }}',
      ALLOW_MUTATIONS: '${{ lower(parameters.allowMutations) }}',
      IMAGE: '$(closeoutImage)',
    })
  })

  test('kubelogin from the KubeloginInstaller task, pinned; the image from az acr build, by digest; the Job from it', () => {
    const kl = steps.findIndex((s) => s.task === 'KubeloginInstaller@0')
    expect(kl).toBeGreaterThanOrEqual(0)
    expect(steps[kl].inputs?.kubeloginVersion).toMatch(/^v\d+\.\d+\.\d+$/)
    expect(kl).toBeLessThan(steps.indexOf(gatesStep()))
    const build = steps.find((s) => s.task === 'AzureCLI@2' && /az acr build/.test(s.inputs?.inlineScript ?? ''))!
    expect(build.inputs?.inlineScript).toMatch(/az acr build -r "\$ACR" -f deploy\/Dockerfile /)
    expect(build.inputs?.inlineScript).toContain('##vso[task.setvariable variable=closeoutImage]$server/closeout@$digest')
    expect(gatesStep().inputs?.inlineScript).toMatch(/if \[ "\$MODE" = "in-cluster" \]; then\n.*ci\/in-cluster\.sh\n\s+code=\$\?/)
    expect(steps.some((s) => /\.\/closeout sbom/.test(s.bash ?? ''))).toBe(true)
  })

  test('the Allure history (Cache@2) is restored before the gates; the decision is the build summary; optional static website', () => {
    const cache = steps.findIndex((s) => s.task === 'Cache@2')
    expect(cache).toBeGreaterThanOrEqual(0)
    expect(cache).toBeLessThan(steps.indexOf(gatesStep()))
    expect(steps[cache].inputs?.restoreKeys).toBeTruthy()
    expect((p as unknown as { variables: Record<string, string> }).variables.CLOSEOUT_HISTORY_PATH).toBe(
      `${steps[cache].inputs?.path}/allure-history.jsonl`,
    )
    const summary = steps.find((s) => /##vso\[task\.uploadsummary\]/.test(s.bash ?? ''))!
    expect(summary.condition).toBe('always()')
    expect(summary.bash).toContain('ci/decision-summary.ts reports/latest/summary.json')
    expect(summary.bash).toContain('--report-url')
    const web = steps.find((s) => /az storage blob upload-batch/.test(s.inputs?.inlineScript ?? ''))!
    expect(web.condition).toMatch(/parameters\.publishReport/)
    expect(web.inputs?.inlineScript).toMatch(/-d '\$web'/)
    expect(web.inputs?.inlineScript).toContain('##vso[task.setvariable variable=closeoutReportUrl]')
    expect(steps.indexOf(web)).toBeLessThan(steps.indexOf(summary))
  })

  test('AzureCLI@2 gets kubelogin credentials and runs the gates with --tag, recording the exit code and exiting 0', () => {
    const cli = gatesStep()
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
    for (const a of arts) expect(a.condition, a.displayName).toMatch(/^(always\(\)|and\(always\(\), .*\))$/)
    expect(arts.map((a) => a.inputs?.targetPath)).toEqual(
      expect.arrayContaining(['reports/allure-report', 'reports/evidence', 'reports/latest']),
    )
  })

  test('the last step (always) fails the job unless the recorded exit code is 0', () => {
    const last = steps[steps.length - 1]
    expect(last.condition).toBe('always()')
    expect(last.env?.CODE).toBe('$(closeoutExitCode)')
    expect(last.bash).toMatch(/test "\$CODE" = "0"/)
  })
})

describe('Renovate: .github/renovate.json', () => {
  const r = JSON.parse(read('.github/renovate.json')) as {
    extends: string[]
    lockFileMaintenance: { enabled: boolean }
    customManagers: { managerFilePatterns: string[]; matchStrings: string[]; depNameTemplate: string }[]
  }
  test('the lockfile, the base image digest, actions (pinned to digests), kubelogin and pnpm', () => {
    expect(r.lockFileMaintenance.enabled).toBe(true)
    expect(r.extends).toEqual(expect.arrayContaining(['docker:pinDigests', 'helpers:pinGitHubActionDigests']))
    const kube = r.customManagers.find((m) => m.depNameTemplate === 'Azure/kubelogin')!
    for (const f of ['ci/azure-pipelines.yml', '.github/workflows/closeout.yml']) {
      const text = read(f)
      expect(
        kube.managerFilePatterns.some((p) => new RegExp(p.slice(1, -1)).test(f)),
        f,
      ).toBe(true)
      expect(
        kube.matchStrings.some((m) => new RegExp(m).test(text)),
        `kubelogin version in ${f}`,
      ).toBe(true)
    }
    const pnpm = r.customManagers.find((m) => m.depNameTemplate === 'pnpm')!
    expect(new RegExp(pnpm.matchStrings[0]).test(read('deploy/Dockerfile'))).toBe(true)
  })
})
