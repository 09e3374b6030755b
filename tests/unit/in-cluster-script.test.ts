// ci/in-cluster.sh, the CI templates' in-cluster step, against a recording fake kubectl: it renders the
// Job with the inputs (tags, --run-id, T_CUTOVER, --allow-mutations, workload identity), applies it,
// follows its logs, returns the container's exit code (the decision) and copies the bundle back from
// the reports volume through a hardened fetch pod.

import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { parseAllDocuments } from 'yaml'

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)))

/** A kubectl that answers like a cluster where the Job's container exited `code`. */
function fakeKubectl(dir: string, code: number, volume: string): string {
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  writeFileSync(
    join(bin, 'kubectl'),
    `#!/usr/bin/env bash
echo "$*" >> "${dir}/calls.log"
args=" $* "
case "$args" in
  *" apply -f "*"job.yaml -o name "*) f="$(printf '%s\\n' "$@" | grep job.yaml)"; echo "configmap/x-target"; echo "job.batch/$(sed -n '/^kind: Job/,$p' "$f" | sed -n 's/^  name: //p' | head -1)" ;;
  *" apply -f "*fetch-pod.json*) echo "pod/fetch created" ;;
  *"status.phase"*) echo Succeeded ;;
  *"exitCode"*) echo ${code} ;;
  *" logs -f "*) echo "closeout decision: from the pod" ;;
  *"claimName"*) echo closeout-reports ;;
  *" wait "*) exit 0 ;;
  *" exec "*" -- tar "*) tar -C "${volume}" -cf - latest allure-results junit.xml ;;
  *" exec "*" -- sh -c "*) c="\${@: -1}"; sh -c "\${c//\\/app\\/reports/${volume}}" ;;
  *" delete "*|*" describe "*) exit 0 ;;
  *) echo "fake kubectl: unexpected: $*" >&2; exit 9 ;;
esac
`,
  )
  chmodSync(join(bin, 'kubectl'), 0o755)
  return bin
}

/** What the Job left on its reports volume: a summary, the run's state and bundle, Allure results. */
function reportsVolume(dir: string, runId: string): string {
  const v = join(dir, 'volume')
  for (const d of ['latest', 'allure-results', `runs/${runId}`, `evidence/${runId}_f3_4_runtime_closeout`, 'evidence/other_run'])
    mkdirSync(join(v, d), { recursive: true })
  writeFileSync(join(v, 'latest', 'summary.json'), JSON.stringify({ runId, decision: 'BLOCKED' }, null, 2))
  writeFileSync(join(v, 'junit.xml'), '<testsuites/>')
  writeFileSync(join(v, 'allure-results', 'a-result.json'), '{}')
  writeFileSync(join(v, `evidence/${runId}_f3_4_runtime_closeout`, '01_baseline.log'), 'ok')
  writeFileSync(join(v, `runs/${runId}`, 'run.json'), '{}')
  return v
}

function run(env: Record<string, string>, code: number) {
  const dir = mkdtempSync(join(tmpdir(), 'in-cluster-'))
  const volume = reportsVolume(dir, '20261201_100000')
  const bin = fakeKubectl(dir, code, volume)
  const reports = join(dir, 'reports')
  const r = spawnSync('bash', [join(root, 'ci/in-cluster.sh')], {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      IMAGE: 'acr.example.io/closeout@sha256:' + 'a'.repeat(64),
      TARGET: 'fixtures/targets/aks-dev.yaml',
      TAGS: 'closeout readiness',
      CLOSEOUT_WORKSPACE_ID: '0b6f1c3e-1111-4222-8333-444455556666',
      AZURE_SUBSCRIPTION_ID: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
      REPORTS_DIR: reports,
      POLL_SECONDS: '0',
      ...env,
    },
  })
  const calls = existsSync(join(dir, 'calls.log')) ? readFileSync(join(dir, 'calls.log'), 'utf8') : ''
  return { ...r, reports, calls }
}

describe('ci/in-cluster.sh (fake kubectl)', () => {
  test('renders the Job from the inputs, returns the container exit code, copies summary + this run bundle only', () => {
    const r = run(
      {
        RUN_ID: '20261201_100000',
        T_CUTOVER: '2026-12-01T10:00:00Z',
        ALLOW_MUTATIONS: 'true',
        WORKLOAD_IDENTITY_CLIENT_ID: '5f0c9a1e-2b3c-4d5e-8f90-1234567890ab',
        NAMESPACE: 'ns1',
      },
      2,
    )
    expect(r.status, r.stderr).toBe(2)
    const docs = parseAllDocuments(readFileSync(join(r.reports, 'ci', 'job.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, any>) // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests
    const job = docs.find((d) => d.kind === 'Job')!
    const c = job.spec.template.spec.containers[0]
    expect(c.image).toBe('acr.example.io/closeout@sha256:' + 'a'.repeat(64))
    expect(c.args).toEqual([
      '--tag',
      'closeout',
      '--tag',
      'readiness',
      '--target',
      '/app/fixtures/targets/in-cluster/aks-dev.yaml',
      '--run-id',
      '20261201_100000',
      '--allow-mutations',
    ])
    expect(c.env).toEqual(expect.arrayContaining([{ name: 'T_CUTOVER', value: '2026-12-01T10:00:00Z' }]))
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'ServiceAccount', 'Role', 'RoleBinding', 'Job'])
    expect(job.metadata.namespace).toBe('ns1')
    expect(r.stdout).toContain('closeout decision: from the pod')
    expect(readFileSync(join(r.reports, 'ci', 'job.log'), 'utf8')).toContain('closeout decision: from the pod')
    expect(JSON.parse(readFileSync(join(r.reports, 'latest', 'summary.json'), 'utf8')).runId).toBe('20261201_100000')
    expect(existsSync(join(r.reports, 'evidence/20261201_100000_f3_4_runtime_closeout/01_baseline.log'))).toBe(true)
    expect(existsSync(join(r.reports, 'allure-results/a-result.json'))).toBe(true)
    expect(existsSync(join(r.reports, 'evidence/other_run'))).toBe(false)
    expect(r.calls).toMatch(/-n ns1 logs -f job\/closeout-closeout-/)
    expect(r.calls).toMatch(/delete pod closeout-closeout-\S+-fetch/)
    const fetch = JSON.parse(readFileSync(join(r.reports, 'ci', 'fetch-pod.json'), 'utf8'))
    expect(fetch.spec.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
    expect(fetch.spec.volumes[0].persistentVolumeClaim).toEqual({ claimName: 'closeout-reports', readOnly: true })
  })

  test('GO is exit 0; a render error stops before anything is applied (exit 3)', () => {
    expect(run({}, 0).status).toBe(0)
    const bad = run({ TARGET: 'fixtures/targets/nope.yaml' }, 0)
    expect(bad.status).toBe(3)
    expect(bad.stderr).toMatch(/job render failed/)
    expect(bad.calls).not.toContain('apply')
  })
})
