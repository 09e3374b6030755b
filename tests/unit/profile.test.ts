import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { fillCommand, interpolate, loadProfile, ProfileError, profileSecrets } from '../../helpers/profile.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const localYaml = readFileSync(join(root, 'fixtures/targets/local.yaml'), 'utf8')

function write(text: string): string {
  const d = mkdtempSync(join(tmpdir(), 'profile-'))
  mkdirSync(join(d, 'fixtures', 'targets'), { recursive: true })
  const f = join(d, 'fixtures', 'targets', 'p.yaml')
  writeFileSync(f, text)
  return f
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadProfile(write(text), env)
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError)
    return (e as ProfileError).problems
  }
  throw new Error('expected the profile to be rejected')
}

describe('target profiles', () => {
  test('the shipped profiles load', () => {
    for (const name of ['local.yaml', 'local-prometheus.yaml']) {
      const p = loadProfile(join(root, 'fixtures/targets', name), {})
      expect(p.kube.namespace).toBe('txlookup')
      expect(p.monitoring.freshnessSloSeconds).toBe(5)
    }
    const aks = loadProfile(join(root, 'fixtures/targets/aks-dev.yaml'), {
      CLOSEOUT_WORKSPACE_ID: 'ws-1',
      AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-0000000000a1',
    })
    expect(aks.api).toMatchObject({ service: 'tx-lookup-api', port: 8000 })
    expect(aks.eventhubs).toEqual({ host: 'nsc-evh-dev.servicebus.windows.net', port: 9093 })
    expect(aks.rehearsal?.migrateCommand).toEqual(['alembic', 'upgrade', 'head'])
  })
  test('an unknown key is rejected with its path', () => {
    const p = problems(localYaml.replace('  namespace: txlookup', '  namespace: txlookup\n  namesapce: typo'))
    expect(p.join('\n')).toMatch(/kube: unknown key "namesapce"/)
  })
  test('a wrong type names the key path and the expected value', () => {
    const p = problems(localYaml.replace('  port: 8000', '  port: eight-thousand'))
    expect(p.join('\n')).toMatch(/api\.port: .*number/i)
  })
  test('a missing required key names its path', () => {
    const p = problems(localYaml.replace(/^owner: .*\n/m, ''))
    expect(p.join('\n')).toMatch(/owner: /)
  })
  test('nested array paths are named', () => {
    const p = problems(localYaml.replace('    command: [txlookup-probe, db]', '    command: []'))
    expect(p.join('\n')).toMatch(/consumer\.dbProbe\.command/)
  })
  test('${VAR} interpolation, ${VAR:-default}, numbers keep their type', () => {
    const p = loadProfile(write(localYaml), { CLOSEOUT_LOCAL_EVENTHUBS_PORT: '50093', CLOSEOUT_OWNER: 'ops-oncall' })
    expect(p.eventhubs.port).toBe(50093)
    expect(p.owner).toBe('ops-oncall')
    expect(loadProfile(write(localYaml), {}).eventhubs.port).toBe(26093)
  })
  test('a missing variable is an error naming it and the key', () => {
    const p = problems(localYaml.replace('owner: ${CLOSEOUT_OWNER:-release-engineering}', 'owner: ${RELEASE_OWNER}'))
    expect(p.join('\n')).toContain('owner: environment variable RELEASE_OWNER is not set')
  })
  test('YAML syntax errors and missing files are ProfileErrors, not stack traces', () => {
    expect(problems('name: [unclosed\n').join('\n')).toMatch(/YAML syntax/)
    expect(() => loadProfile('/nonexistent/p.yaml')).toThrow(/file not found/)
  })
  test('source-specific sections are required', () => {
    const p = problems(localYaml.replace('  source: azure-monitor', '  source: prometheus'))
    expect(p.join('\n')).toMatch(/monitoring\.prometheus: required/)
  })
  test('consumer.registry: optional, strict, key paths in errors, the token is a profile secret', () => {
    const local = loadProfile(write(localYaml), { CLOSEOUT_LOCAL_REGISTRY_TOKEN: 'registry-token-123' })
    expect(local.consumer.registry).toMatchObject({
      kind: 'acr',
      repository: 'txlookup/consumer',
      credential: { token: 'registry-token-123' },
      pageSize: 100,
    })
    expect(profileSecrets(local, {})).toContain('registry-token-123')
    const aks = loadProfile(join(root, 'fixtures/targets/aks-dev.yaml'), {
      CLOSEOUT_WORKSPACE_ID: 'ws-1',
      AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-0000000000a1',
    })
    expect(aks.consumer.registry).toMatchObject({
      kind: 'acr',
      url: 'https://nscacrdevw4mlu8.azurecr.io',
      repository: 'txlookup/consumer',
      credential: 'default',
    })
    const without = localYaml.replace(/ {2}registry:\n( {4}.*\n)+/, '')
    expect(without).not.toContain('registry:')
    expect(loadProfile(write(without), {}).consumer.registry).toBeUndefined()
    expect(problems(localYaml.replace('    kind: acr', '    kind: ecr')).join('\n')).toMatch(/consumer\.registry\.kind: /)
    expect(
      problems(localYaml.replace('    repository: txlookup/consumer', '    repository: txlookup/consumer\n    repo: x')).join('\n'),
    ).toMatch(/consumer\.registry: unknown key "repo"/)
    expect(problems(localYaml.replace('    repository: txlookup/consumer', '    repository: TxLookup Consumer')).join('\n')).toMatch(
      /consumer\.registry\.repository: must be a lower-case repository path/,
    )
  })
  test('aks: optional, strict, key paths in errors, AZURE_SUBSCRIPTION_ID in aks-dev, the token is a profile secret', () => {
    const local = loadProfile(write(localYaml), {
      CLOSEOUT_LOCAL_ARM_TOKEN: 'arm-token-123',
      CLOSEOUT_LOCAL_ARM_URL: 'https://127.0.0.1:47446',
    })
    expect(local.aks).toMatchObject({
      resourceGroup: '2dt-final-team4',
      name: 'nsc-aks-dev',
      endpoint: 'https://127.0.0.1:47446',
      credential: { token: 'arm-token-123' },
    })
    expect(profileSecrets(local, {})).toContain('arm-token-123')
    const aks = loadProfile(join(root, 'fixtures/targets/aks-dev.yaml'), {
      CLOSEOUT_WORKSPACE_ID: 'ws-1',
      AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-0000000000a1',
    })
    expect(aks.aks).toEqual({
      subscriptionId: '00000000-0000-0000-0000-0000000000a1',
      resourceGroup: '2dt-final-team4',
      name: 'nsc-aks-dev',
      endpoint: 'https://management.azure.com',
      credential: 'default',
      timeoutMs: 20000,
    })
    expect(() => loadProfile(join(root, 'fixtures/targets/aks-dev.yaml'), { CLOSEOUT_WORKSPACE_ID: 'ws-1' })).toThrow(
      /aks\.subscriptionId: environment variable AZURE_SUBSCRIPTION_ID is not set/,
    )
    const without = localYaml.replace(/^aks:\n( {2}.*\n)+/m, '')
    expect(without).not.toMatch(/^aks:/m)
    expect(loadProfile(write(without), {}).aks).toBeUndefined()
    expect(problems(localYaml.replace('  name: nsc-aks-dev', '  name: nsc-aks-dev\n  cluster: x')).join('\n')).toMatch(
      /aks: unknown key "cluster"/,
    )
    expect(problems(localYaml.replace(/subscriptionId: \S+/, 'subscriptionId: my-sub')).join('\n')).toMatch(
      /aks\.subscriptionId: must be a subscription id/,
    )
    expect(problems(localYaml.replace('  name: nsc-aks-dev', '  name: nsc aks dev')).join('\n')).toMatch(
      /aks\.name: must be an AKS cluster name/,
    )
  })
  test('fillCommand substitutes placeholders per argv element (no shell quoting)', () => {
    expect(fillCommand(['x', '--since', '{since}', "it's {runId}"], { since: '2026-01-01T00:00:00Z', runId: 'r1' })).toEqual([
      'x',
      '--since',
      '2026-01-01T00:00:00Z',
      "it's r1",
    ])
    const missing: string[] = []
    expect(interpolate({ a: ['${A}'] }, {}, '', missing)).toEqual({ a: [undefined] })
    expect(missing[0]).toContain('a[0]: environment variable A')
  })
})
