import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as k8s from '@kubernetes/client-node'
import { describe, expect, test } from 'vitest'
import { classifyKubeError, deploymentRolloutStatus, exitCodeFromStatus, KubeConfigError, loadKubeConfig } from '../../helpers/kube.ts'

const dep = (gen: number, status: k8s.V1DeploymentStatus, replicas = 1): k8s.V1Deployment => ({
  metadata: { name: 'web', generation: gen },
  spec: { replicas, selector: {}, template: {} },
  status,
})

describe('rollout status (kubectl DeploymentStatusViewer)', () => {
  test('waits for the spec update to be observed', () => {
    expect(deploymentRolloutStatus(dep(2, { observedGeneration: 1 })).message).toBe('Waiting for deployment spec update to be observed...')
  })
  test('waits for updated, old-terminating and available replicas, in that order', () => {
    expect(deploymentRolloutStatus(dep(2, { observedGeneration: 2, updatedReplicas: 0, replicas: 1 })).message).toMatch(
      /0 out of 1 new replicas have been updated/,
    )
    expect(deploymentRolloutStatus(dep(2, { observedGeneration: 2, updatedReplicas: 1, replicas: 2 })).message).toMatch(
      /1 old replicas are pending termination/,
    )
    expect(
      deploymentRolloutStatus(dep(2, { observedGeneration: 2, updatedReplicas: 1, replicas: 1, availableReplicas: 0 })).message,
    ).toMatch(/0 of 1 updated replicas are available/)
    expect(deploymentRolloutStatus(dep(2, { observedGeneration: 2, updatedReplicas: 1, replicas: 1, availableReplicas: 1 }))).toEqual({
      done: true,
      message: 'deployment "web" successfully rolled out',
    })
  })
  test('ProgressDeadlineExceeded is a failure', () => {
    const r = deploymentRolloutStatus(
      dep(2, { observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }),
    )
    expect(r).toMatchObject({ done: false, failed: true, message: 'deployment "web" exceeded its progress deadline' })
  })
})

describe('exec status channel', () => {
  test('exit codes from metav1.Status', () => {
    expect(exitCodeFromStatus({ status: 'Success' })).toBe(0)
    expect(
      exitCodeFromStatus({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } }),
    ).toBe(3)
    expect(exitCodeFromStatus({ status: 'Failure', reason: 'InternalError', message: 'boom' })).toBeNull()
    expect(exitCodeFromStatus(undefined)).toBeNull()
  })
})

describe('kubeconfig loading never falls back to localhost:8080', () => {
  test('a missing explicit file is a KubeConfigError naming it', () => {
    expect(() => loadKubeConfig({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(/kubeconfig \/nonexistent\/kubeconfig does not exist/)
  })
  test('nothing anywhere: lists what was tried', () => {
    const home = process.env.HOME
    const kc = process.env.KUBECONFIG
    process.env.HOME = mkdtempSync(join(tmpdir(), 'home-'))
    process.env.KUBECONFIG = '/nonexistent/a'
    try {
      expect(() => loadKubeConfig()).toThrow(KubeConfigError)
      expect(() => loadKubeConfig()).toThrow(/tried KUBECONFIG=\/nonexistent\/a \(missing\)/)
    } finally {
      process.env.HOME = home
      if (kc === undefined) delete process.env.KUBECONFIG
      else process.env.KUBECONFIG = kc
    }
  })
  test('an unknown context lists the available ones', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'kc-')), 'config')
    writeFileSync(
      f,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: real, context: {cluster: c, user: u}}]\ncurrent-context: real\n',
    )
    expect(() => loadKubeConfig({ kubeconfig: f, context: 'nope' })).toThrow(/context "nope" is not in the kubeconfig; available: real/)
    expect(loadKubeConfig({ kubeconfig: f }).getCurrentCluster()?.server).toBe('https://127.0.0.1:1')
  })
})

describe('error classification', () => {
  test('401, 403, namespace 404, object 404, network', () => {
    expect(classifyKubeError(new k8s.ApiException(401, 'Unauthorized', undefined as never, {})).kind).toBe('unauthorized')
    const f = classifyKubeError(
      new k8s.ApiException(403, 'x', JSON.stringify({ message: 'pods is forbidden: User "u" cannot list resource "pods"' }) as never, {}),
    )
    expect(f).toMatchObject({ kind: 'forbidden' })
    expect(f.message).toContain('cannot list resource "pods"')
    expect(
      classifyKubeError(new k8s.ApiException(404, 'x', JSON.stringify({ message: 'namespaces "txlookup" not found' }) as never, {})),
    ).toMatchObject({ kind: 'not-found', isNamespace: true })
    expect(
      classifyKubeError(new k8s.ApiException(404, 'x', JSON.stringify({ message: 'deployments.apps "x" not found' }) as never, {})),
    ).toMatchObject({ kind: 'not-found', isNamespace: false })
    expect(classifyKubeError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })).kind).toBe('unreachable')
    expect(classifyKubeError(new Error('Unexpected server response: 403')).kind).toBe('forbidden')
    expect(classifyKubeError(new Error('something else')).kind).toBe('other')
  })
})
