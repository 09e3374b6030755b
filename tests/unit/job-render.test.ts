// The in-cluster run as Kubernetes and Docker would read it (no cluster or Docker engine here: the
// rendered manifests and the Dockerfile are parsed, not applied or built).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { JobUsageError, renderJob } from '../../bin/job.ts'
import { node } from '../e2e/_run.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const read = (f: string) => readFileSync(root + f, 'utf8')
type Obj = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are open YAML
// what aks-dev.yaml needs from the rendering shell (its ${VAR}s without a default)
const SHELL = {
  CLOSEOUT_WORKSPACE_ID: '0b6f1c3e-1111-4222-8333-444455556666',
  AZURE_SUBSCRIPTION_ID: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
}
const render = (o: Partial<Parameters<typeof renderJob>[0]> = {}): Obj[] =>
  parseAllDocuments(
    renderJob({
      target: root + 'fixtures/targets/aks-dev.yaml',
      tags: ['closeout'],
      now: new Date('2026-11-22T10:00:00Z'),
      env: SHELL,
      ...o,
    }),
  ).map((d) => d.toJS() as Obj)

describe('./closeout job render', () => {
  test('a ConfigMap holding the target profile, mounted where --target points', () => {
    const [cm, job] = render({ tags: ['closeout', 'readiness'] })
    expect(cm).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'txlookup' } })
    expect(cm.data['aks-dev.yaml']).toBe(read('fixtures/targets/aks-dev.yaml'))
    const pod = job.spec.template.spec
    const c = pod.containers[0]
    expect(c.args).toEqual(['--tag', 'closeout', '--tag', 'readiness', '--target', '/app/fixtures/targets/in-cluster/aks-dev.yaml'])
    const mount = c.volumeMounts.find((m: Obj) => m.name === 'target')
    expect(mount).toMatchObject({ mountPath: '/app/fixtures/targets/in-cluster', readOnly: true })
    expect(pod.volumes.find((v: Obj) => v.name === 'target').configMap.name).toBe(cm.metadata.name)
  })

  test('the Job: one attempt, bounded, cleaned up, least-privilege ServiceAccount, hardened pod', () => {
    const [, job] = render({ image: 'acr.example/closeout:1.2.3' })
    expect(job).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job', metadata: { namespace: 'txlookup' } })
    expect(job.metadata.name).toBe('closeout-closeout-20261122100000')
    expect(job.metadata.name.length).toBeLessThanOrEqual(63)
    expect(job.spec.backoffLimit).toBe(0)
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0)
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0)
    const pod = job.spec.template.spec
    expect(pod.serviceAccountName).toBe('closeout-runner')
    expect(pod.restartPolicy).toBe('Never')
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } })
    const c = pod.containers[0]
    expect(c.image).toBe('acr.example/closeout:1.2.3')
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    })
    // the read-only root holds nothing writable but the two volumes
    expect(
      c.volumeMounts
        .filter((m: Obj) => !m.readOnly)
        .map((m: Obj) => m.mountPath)
        .sort(),
    ).toEqual(['/app/reports', '/tmp'])
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'CLOSEOUT_API_ACCESS', value: 'direct' },
        { name: 'CLOSEOUT_REPORTS_DIR', value: '/app/reports' },
      ]),
    )
    // writable: /tmp (emptyDir) and /app/reports (PVC: the bundle and summary.json survive the Job)
    expect(c.volumeMounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'tmp', mountPath: '/tmp' }),
        expect.objectContaining({ name: 'reports', mountPath: '/app/reports' }),
      ]),
    )
    expect(pod.volumes.find((v: Obj) => v.name === 'tmp')).toEqual({ name: 'tmp', emptyDir: {} })
    expect(pod.volumes.find((v: Obj) => v.name === 'reports').persistentVolumeClaim.claimName).toBe('closeout-reports')
    const [pvc] = parseAllDocuments(read('deploy/k8s/reports-pvc.yaml')).map((d) => d.toJS() as Obj)
    expect(pvc).toMatchObject({ kind: 'PersistentVolumeClaim', metadata: { name: 'closeout-reports' } })
  })

  test('--workload-identity: the ServiceAccount names the managed identity and the pod carries the webhook label', () => {
    const plain = render()
    expect(plain[1].spec.template.metadata.labels['azure.workload.identity/use']).toBeUndefined()
    const id = '5f0c9a1e-2b3c-4d5e-8f90-1234567890ab'
    const docs = render({ namespace: 'ns3', workloadIdentityClientId: id })
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'ServiceAccount', 'Job'])
    const [, sa, job] = docs
    expect(sa.metadata).toMatchObject({
      name: 'closeout-runner',
      namespace: 'ns3',
      annotations: { 'azure.workload.identity/client-id': id },
    })
    expect(job.spec.template.spec.serviceAccountName).toBe(sa.metadata.name)
    expect(job.spec.template.metadata.labels).toMatchObject({ 'azure.workload.identity/use': 'true', 'app.kubernetes.io/name': 'closeout' })
    expect(() => render({ workloadIdentityClientId: 'my-identity' })).toThrow(/not a client id/)
  })

  test("the profile's variables reach the pod: required ones from the shell, --env for others, secrets only through a Secret", () => {
    const env = (docs: Obj[]) => docs.at(-1)!.spec.template.spec.containers[0].env as { name: string; value: string }[]
    const job = render()
    expect(env(job)).toEqual(expect.arrayContaining([{ name: 'CLOSEOUT_WORKSPACE_ID', value: SHELL.CLOSEOUT_WORKSPACE_ID }]))
    expect(env(job).map((e) => e.name)).not.toContain('T_CUTOVER') // has a default: not passed unless asked
    expect(env(render({ passEnv: ['T_CUTOVER=2026-12-01T10:00:00Z'] }))).toEqual(
      expect.arrayContaining([{ name: 'T_CUTOVER', value: '2026-12-01T10:00:00Z' }]),
    )
    // without the variable the pod would stop at profile load: the renderer says so first
    expect(() => render({ env: {} })).toThrow(/needs .*CLOSEOUT_WORKSPACE_ID \(export it before rendering/)
    expect(() => render({ passEnv: ['DATABASE_URL=postgres://u:p@h/db'] })).toThrow(/a secret is never written into the manifest/)
    const dir = mkdtempSync(join(tmpdir(), 'job-secret-'))
    writeFileSync(join(dir, 'p.yaml'), 'name: p\nsecretEnv: [PG_PASS]\ndatabase:\n  password: ${PG_PASS}\n')
    expect(() => render({ target: join(dir, 'p.yaml'), env: { PG_PASS: 'hunter2' } })).toThrow(
      /PG_PASS \(a secret: put it in a Secret and pass --env-from-secret/,
    )
    const withSecret = render({ target: join(dir, 'p.yaml'), env: { PG_PASS: 'hunter2' }, envFromSecret: 'closeout-secrets' })
    const c = withSecret.at(-1)!.spec.template.spec.containers[0]
    expect(c.envFrom).toEqual([{ secretRef: { name: 'closeout-secrets' } }])
    expect(JSON.stringify(withSecret)).not.toContain('hunter2')
  })

  test('--namespace, --pvc; mutations Role + RoleBinding only with --allow-mutations', () => {
    const plain = render({ namespace: 'ns2', pvc: 'my-claim' })
    expect(plain.map((d) => d.kind)).toEqual(['ConfigMap', 'Job'])
    expect(plain.every((d) => d.metadata.namespace === 'ns2')).toBe(true)
    expect(plain[1].spec.template.spec.volumes.find((v: Obj) => v.name === 'reports').persistentVolumeClaim.claimName).toBe('my-claim')
    expect(plain[1].spec.template.spec.containers[0].args).not.toContain('--allow-mutations')
    const mut = render({ namespace: 'ns2', allowMutations: true })
    expect(mut.map((d) => d.kind)).toEqual(['ConfigMap', 'Role', 'RoleBinding', 'Job'])
    expect(mut[2].subjects).toEqual([{ kind: 'ServiceAccount', name: 'closeout-runner', namespace: 'ns2' }])
    expect(mut[1].rules).toEqual([{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['patch', 'create'] }])
    expect(mut[3].spec.template.spec.containers[0].args.at(-1)).toBe('--allow-mutations')
    // the CI templates' run-id input: a rerun appends to the run on the reports volume
    expect(render({ runId: '20261201_100000', allowMutations: true }).at(-1)!.spec.template.spec.containers[0].args.slice(-3)).toEqual([
      '--run-id',
      '20261201_100000',
      '--allow-mutations',
    ])
  })

  test('usage errors: no tag, missing target file, unknown option → exit 3 with a clear message', () => {
    expect(() => renderJob({ target: root + 'fixtures/targets/aks-dev.yaml', tags: [] })).toThrow(JobUsageError)
    expect(() => renderJob({ target: '/nope.yaml', tags: ['closeout'] })).toThrow(/does not exist/)
    const noTag = node(['bin/job.ts', 'render', '--target', 'fixtures/targets/aks-dev.yaml'])
    expect(noTag.code).toBe(3)
    expect(noTag.stderr).toContain('at least one --tag is required')
    const missing = node(['bin/job.ts', 'render', '--target', 'fixtures/targets/nope.yaml', '--tag', 'closeout'])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain('target profile fixtures/targets/nope.yaml does not exist')
    expect(node(['bin/job.ts', 'render', '--target', 'fixtures/targets/aks-dev.yaml', '--tag', 'closeout', '--bogus']).code).toBe(3)
    expect(node(['bin/job.ts']).code).toBe(3)
  })

  test('the CLI prints the same manifests, for any profile file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'job-'))
    writeFileSync(join(dir, 'mine.yaml'), 'name: mine\n')
    const r = node(['bin/job.ts', 'render', '--target', join(dir, 'mine.yaml'), '--tag', 'readiness', '--image', 'img:1'])
    expect(r.code).toBe(0)
    const [cm, job] = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj)
    expect(cm.data).toEqual({ 'mine.yaml': 'name: mine\n' })
    expect(job.spec.template.spec.containers[0].args).toEqual([
      '--tag',
      'readiness',
      '--target',
      '/app/fixtures/targets/in-cluster/mine.yaml',
    ])
  })
})

describe('deploy/Dockerfile (parsed; no Docker engine here)', () => {
  const df = read('deploy/Dockerfile')
  const lines = df.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'))
  const stages = lines.filter((l) => /^FROM /.test(l))
  test('multi-stage on node:24-slim pinned by digest; pnpm pinned from npm (not corepack); production dependencies from the frozen lockfile', () => {
    expect(stages).toHaveLength(2)
    for (const s of stages) expect(s).toMatch(/^FROM node:24-slim@sha256:[0-9a-f]{64} AS \w+$/)
    expect(new Set(stages.map((s) => s.split(' ')[1])).size).toBe(1)
    expect(lines.filter((l) => /^RUN .*corepack/.test(l))).toEqual([])
    const pnpmVersion = /^ARG PNPM_VERSION=(\S+)$/m.exec(df)?.[1]
    expect(pnpmVersion).toBe((JSON.parse(read('package.json')) as { packageManager: string }).packageManager.split('@')[1])
    expect(df).toMatch(/^RUN npm install --global .*"pnpm@\$\{PNPM_VERSION\}"$/m)
    expect(df).toMatch(/^RUN .*pnpm install --prod --frozen-lockfile/m)
    expect(df).toMatch(/^COPY --from=\w+ \/app\/node_modules \.\/node_modules$/m)
  })
  test('runtime: the suite only (bin helpers specs profiles events + config), no tests or local env', () => {
    const runtime = lines.slice(lines.indexOf(stages[1]))
    const copied = runtime.filter((l) => /^COPY /.test(l)).join('\n')
    for (const p of ['bin', 'helpers', 'specs', 'fixtures/targets', 'fixtures/events', 'vitest.config.ts', 'package.json', 'tsconfig.json'])
      expect(copied).toContain(p)
    expect(copied).not.toMatch(/COPY (\.|tests|fixtures\/local-env|fixtures) /)
  })
  test('OCI labels', () => {
    for (const k of ['title', 'description', 'version', 'revision', 'created', 'source', 'base.name'])
      expect(df).toContain(`org.opencontainers.image.${k}=`)
  })
  test('WORKDIR /app, non-root USER 10001, ENTRYPOINT node bin/test.ts (exit code = decision)', () => {
    const runtime = lines.slice(lines.indexOf(stages[1]))
    expect(runtime).toContain('WORKDIR /app')
    const user = runtime.filter((l) => /^USER /.test(l)).at(-1)
    expect(user).toMatch(/^USER 10001(:10001)?$/)
    expect(JSON.parse(runtime.find((l) => /^ENTRYPOINT /.test(l))!.replace(/^ENTRYPOINT /, ''))).toEqual(['node', 'bin/test.ts'])
  })
})
