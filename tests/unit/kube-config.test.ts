// loadKubeConfig resolves a kubeconfig the way kubectl does, and never falls back to localhost:8080.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { KubeConfigError, loadKubeConfig } from '../../helpers/kube.ts'

const dir = mkdtempSync(join(tmpdir(), 'kcfg-'))
const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG }
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
})

function config(name: string, o: { context: string; server: string; current?: string | null; exec?: boolean }): string {
  const f = join(dir, name)
  const user = o.exec
    ? `{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: kubelogin, args: [get-token, --login, azurecli, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630], interactiveMode: Never}}`
    : `{token: t-${name}}`
  const current = o.current === null ? '' : `current-context: ${o.current ?? o.context}\n`
  writeFileSync(
    f,
    `apiVersion: v1\nkind: Config\nclusters: [{name: c-${name}, cluster: {server: "${o.server}"}}]\nusers: [{name: u-${name}, user: ${user}}]\ncontexts: [{name: ${o.context}, context: {cluster: c-${name}, user: u-${name}, namespace: txlookup}}]\n${current}`,
  )
  return f
}

describe('loadKubeConfig', () => {
  test('KUBECONFIG: missing entries are skipped and the rest merged, the first file’s current-context wins', () => {
    const a = config('a', { context: 'aks-dev', server: 'https://aks-dev.example:443' })
    const b = config('b', { context: 'other', server: 'https://other.example:443' })
    process.env.KUBECONFIG = [join(dir, 'missing'), a, b].join(':')
    const kc = loadKubeConfig()
    expect(kc.getCurrentContext()).toBe('aks-dev')
    expect(
      kc
        .getContexts()
        .map((c) => c.name)
        .sort(),
    ).toEqual(['aks-dev', 'other'])
    expect(loadKubeConfig({ context: 'other' }).getCurrentCluster()?.server).toBe('https://other.example:443')
  })

  test('KUBECONFIG naming only missing files is an error, not a silent switch to ~/.kube/config', () => {
    const home = mkdtempSync(join(dir, 'home-'))
    mkdirSync(join(home, '.kube'))
    writeFileSync(join(home, '.kube', 'config'), '')
    config('home', { context: 'home', server: 'https://home.example' })
    process.env.HOME = home
    process.env.KUBECONFIG = join(dir, 'nope')
    expect(() => loadKubeConfig()).toThrow(KubeConfigError)
    expect(() => loadKubeConfig()).toThrow(/tried KUBECONFIG=.*nope \(missing\).*unset it to use/)
  })

  test('an exec credential plugin (kubelogin) stays in the config for client-node to run', () => {
    const kc = loadKubeConfig({ kubeconfig: config('exec', { context: 'aks', server: 'https://aks.example', exec: true }) })
    expect(kc.getCurrentUser()?.exec?.command).toBe('kubelogin')
  })

  test('no current-context and no context asked for: an error listing the contexts, not localhost:8080', () => {
    const f = config('nocur', { context: 'only', server: 'https://x.example', current: null })
    expect(() => loadKubeConfig({ kubeconfig: f })).toThrow(/has no usable current-context.*available: only/)
    expect(loadKubeConfig({ kubeconfig: f, context: 'only' }).getCurrentCluster()?.server).toBe('https://x.example')
  })
})
