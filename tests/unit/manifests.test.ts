// Every manifest in deploy/ and every render (kustomize overlays, ./closeout job render) as the API
// server would read it: the Kubernetes JSON schemas (kubernetes-models, Kubernetes >= 1.30) for types
// and required fields, and a round trip through @kubernetes/client-node's ObjectSerializer for
// unknown fields (the schemas allow them; the serializer drops them, so a difference is a typo).

import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
// not re-exported from the package index (2.0.1); the package has no exports map, so the file is reachable
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js'
import * as models from 'kubernetes-models'
import { describe, expect, test } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { renderJob } from '../../bin/job.ts'

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)))
type Obj = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are open YAML
const SHELL = {
  CLOSEOUT_WORKSPACE_ID: '0b6f1c3e-1111-4222-8333-444455556666',
  AZURE_SUBSCRIPTION_ID: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
}
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0

const docs = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean)
const kustomize = (dir: string): Obj[] => docs(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }))

function yamlFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? yamlFiles(join(dir, e.name))
      : /\.ya?ml$/.test(e.name) && e.name !== 'kustomization.yaml' && !dir.includes('/target')
        ? [join(dir, e.name)]
        : [],
  )
}

/** kubernetes-models class for apiVersion/kind: rbac.authorization.k8s.io/v1 → models.rbacAuthorizationK8sIo.v1 */
function modelClass(o: Obj): (new (data: Obj) => { validate(): void }) | undefined {
  const [group, version] = String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/') : ['', String(o.apiVersion)]
  const key = group ? group.replace(/[.-](\w)/g, (_, c: string) => c.toUpperCase()) : 'v1'
  const ns = (models as unknown as Record<string, Record<string, Record<string, unknown>>>)[key]
  const cls = group ? ns?.[version]?.[o.kind] : (ns as unknown as Record<string, unknown>)?.[o.kind]
  return cls as (new (data: Obj) => { validate(): void }) | undefined
}

/** Problems of one object: schema errors, unknown fields (the serializer round trip differs). */
function problems(o: Obj, where: string): string[] {
  const out: string[] = []
  const Cls = modelClass(o)
  if (!Cls) return [`${where}: ${o.apiVersion} ${o.kind} is not a Kubernetes kind`]
  try {
    new Cls(o).validate()
  } catch (e) {
    out.push(`${where}: ${o.kind} ${o.metadata?.name}: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`)
  }
  const type = `${String(o.apiVersion).split('/').at(-1)!.replace(/^v/, 'V')}${o.kind}`
  const back = ObjectSerializer.serialize(ObjectSerializer.deserialize(o, type, ''), type, '') as Obj
  const a = JSON.stringify(sortKeys(o))
  const b = JSON.stringify(sortKeys(back))
  if (a !== b) out.push(`${where}: ${o.kind} ${o.metadata?.name}: fields the API does not know (${firstDifference(o, back)})`)
  return out
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, x]) => [k, sortKeys(x)]),
    )
  return v
}

function firstDifference(a: unknown, b: unknown, path = ''): string {
  if (a && typeof a === 'object' && b && typeof b === 'object') {
    for (const k of Object.keys(a)) {
      const d = firstDifference((a as Obj)[k], (b as Obj)[k], `${path}.${k}`)
      if (d) return d
    }
    return ''
  }
  return JSON.stringify(a) === JSON.stringify(b) ? '' : `${path || '(root)'}`
}

const renders = (): [string, Obj[]][] => [
  [
    'job render',
    docs(
      renderJob({
        target: join(root, 'fixtures/targets/aks-dev.yaml'),
        tags: ['closeout'],
        env: SHELL,
        now: new Date('2026-11-22T10:00:00Z'),
      }),
    ),
  ],
  [
    'job render --allow-mutations --workload-identity',
    docs(
      renderJob({
        target: join(root, 'fixtures/targets/aks-dev.yaml'),
        tags: ['rehearsal'],
        env: SHELL,
        allowMutations: true,
        workloadIdentityClientId: '5f0c9a1e-2b3c-4d5e-8f90-1234567890ab',
        envFromSecret: 's',
      }),
    ),
  ],
  ...(hasKubectl
    ? (['aks-dev', 'aks-dev-mutations'].map((o) => [`kustomize ${o}`, kustomize(join(root, 'deploy/kustomize/overlays', o))]) as [
        string,
        Obj[],
      ][])
    : []),
]

describe('deploy/ manifests against the Kubernetes schemas', () => {
  test('every YAML file under deploy/ (not kustomization files)', () => {
    const files = yamlFiles('deploy')
    expect(files).toEqual(
      expect.arrayContaining(['deploy/k8s/job.yaml', 'deploy/k8s/role.yaml', 'deploy/k8s/mutations/role-mutations.yaml']),
    )
    expect(files.flatMap((f) => docs(readFileSync(join(root, f), 'utf8')).flatMap((o) => problems(o, f)))).toEqual([])
  })

  test('every render: job render and the kustomize overlays', () => {
    const all = renders()
    if (hasKubectl) expect(all.length).toBe(4)
    expect(all.flatMap(([name, objs]) => objs.flatMap((o) => problems(o, name)))).toEqual([])
  })

  test('the checks catch what they are for: a wrong type and an unknown field', () => {
    const [, job] = docs(renderJob({ target: join(root, 'fixtures/targets/aks-dev.yaml'), tags: ['closeout'], env: SHELL }))
    const typo = structuredClone(job)
    typo.spec.template.spec.containers[0].securityContex = { runAsNonRoot: true }
    expect(problems(typo, 'x').join()).toMatch(/fields the API does not know \(\.spec\.template\.spec\.containers\.0\.securityContex\)/)
    const wrong = structuredClone(job)
    wrong.spec.backoffLimit = 'zero'
    expect(problems(wrong, 'x').join()).toMatch(/backoffLimit/)
  })
})

describe.skipIf(!hasKubectl)('kustomize: deploy/kustomize/overlays/aks-dev', () => {
  test('renders the runner with the image, workload identity, profile and hardened Job', () => {
    const objs = kustomize(join(root, 'deploy/kustomize/overlays/aks-dev'))
    expect(objs.map((o) => o.kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'ConfigMap',
      'Job',
      'PersistentVolumeClaim',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ])
    const job = objs.find((o) => o.kind === 'Job')!
    const pod = job.spec.template.spec
    const c = pod.containers[0]
    expect(c.image).toMatch(/^REGISTRY\.azurecr\.io\/closeout[:@]/)
    expect(c.args).toEqual(['--tag', 'closeout', '--target', '/app/fixtures/targets/in-cluster/aks-dev.yaml'])
    expect(job.spec.template.metadata.labels['azure.workload.identity/use']).toBe('true')
    expect(objs.find((o) => o.kind === 'ServiceAccount')!.metadata.annotations['azure.workload.identity/client-id']).toMatch(
      /^[0-9a-f-]{36}$/,
    )
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    })
    // the generated ConfigMap (hash suffix) is the one mounted where --target points
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('closeout-target'))!
    expect(pod.volumes.find((v: Obj) => v.name === 'target').configMap.name).toBe(cm.metadata.name)
    expect(cm.data['aks-dev.yaml']).toBe(readFileSync(join(root, 'fixtures/targets/aks-dev.yaml'), 'utf8'))
    expect(objs.some((o) => o.metadata.name === 'closeout-mutations')).toBe(false)
  })

  test('the mutations Role is an optional component, with --allow-mutations on the Job', () => {
    const objs = kustomize(join(root, 'deploy/kustomize/overlays/aks-dev-mutations'))
    expect(
      objs
        .filter((o) => o.metadata.name === 'closeout-mutations')
        .map((o) => o.kind)
        .sort(),
    ).toEqual(['Role', 'RoleBinding'])
    expect(objs.find((o) => o.kind === 'Job')!.spec.template.spec.containers[0].args.at(-1)).toBe('--allow-mutations')
  })

  test('another namespace: every namespaced object, the RoleBinding subjects and the ClusterRole resourceNames follow it', () => {
    const tmp = mkdtempSync(join(root, 'deploy/kustomize/.ns-test-'))
    try {
      for (const d of ['base', 'components', 'overlays'])
        cpSync(join(root, 'deploy/kustomize', d), join(tmp, 'kustomize', d), { recursive: true })
      cpSync(join(root, 'deploy/k8s'), join(tmp, 'k8s'), { recursive: true })
      const k = join(tmp, 'kustomize/overlays/aks-dev/kustomization.yaml')
      const text = readFileSync(k, 'utf8').replace(/^namespace: txlookup$/m, 'namespace: other-ns')
      expect(text).toContain('namespace: other-ns')
      writeFileSync(k, text)
      const objs = kustomize(join(tmp, 'kustomize/overlays/aks-dev-mutations'))
      const namespaced = objs.filter((o) => !o.kind.startsWith('Cluster'))
      expect(namespaced.map((o) => `${o.kind}:${o.metadata.namespace}`).filter((s) => !s.endsWith(':other-ns'))).toEqual([])
      for (const b of objs.filter((o) => o.kind.endsWith('Binding')))
        expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'closeout-runner', namespace: 'other-ns' }])
      expect(objs.find((o) => o.kind === 'ClusterRole')!.rules[0].resourceNames).toEqual(['other-ns'])
      expect(JSON.stringify(objs.filter((o) => o.kind !== 'ConfigMap'))).not.toContain('txlookup')
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
    expect(existsSync(tmp)).toBe(false)
  })
})
