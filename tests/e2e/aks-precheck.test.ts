// precheck's AKS precondition (E2-3 §3 `az aks show … --query provisioningState -o tsv`) end to end,
// through `pnpm test` as an operator runs it (bin/test.ts), against the local ARM double: Succeeded
// passes with the evidence step; fault aks-not-succeeded (provisioningState Updating) blocks precheck as
// ENVIRONMENT_BLOCKED and with it every other rehearsal gate, exit 2; a token ARM rejects is "could not
// check" (ENVIRONMENT_BLOCKED) and the token appears nowhere; a profile without aks: records the skip.

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { envUp, outcome, ROOT, runGates, type SuiteRun } from './_run.ts'

const REHEARSAL = ['precheck', 'migrate', 'backfill', 'sync-happy', 'smoke-200', 'smoke-404', 'idempotency']
const AZ_LINE = 'command: az aks show -g 2dt-final-team4 -n nsc-aks-dev --query provisioningState -o tsv'

const bundleOf = (r: SuiteRun) => r.summary.bundles.rehearsal
const precheckLog = (r: SuiteRun) => readFileSync(join(bundleOf(r), '01_precheck.log'), 'utf8')
/** the AKS step's block of 01_precheck.log */
const aksStep = (r: SuiteRun) =>
  /--- step: AKS cluster nsc-aks-dev provisioningState\n[\s\S]*?(?=\n--- step: |\n=== |$)/.exec(precheckLog(r))?.[0] ?? ''
const precheck = (r: SuiteRun) => r.summary.gates.find((g) => g.id === 'precheck')

describe('precheck: AKS provisioningState through Azure Resource Manager', () => {
  beforeAll(() => {
    envUp([])
  })
  afterAll(() => {
    // what later test files get: no fault
    envUp([])
  })

  test('Succeeded: precheck passes; the step records the az aks show line, the ARM URL, exit_code 0 and the state', () => {
    const r = runGates(['--tag', 'precheck'])
    expect(outcome(r.summary, 'rehearsal')).toEqual({ precheck: 'passed' })
    expect(r.code).toBe(0)
    const step = aksStep(r)
    expect(step).toContain(AZ_LINE)
    expect(step).toMatch(
      /\ntarget: https:\/\/127\.0\.0\.1:\d+\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/2dt-final-team4\/providers\/Microsoft\.ContainerService\/managedClusters\/nsc-aks-dev\?api-version=2025-08-01[;\n]/,
    )
    expect(step).toMatch(/\nexit_code: 0\n/)
    expect(step).toMatch(/\nstdout: \|\n {2}Succeeded\n {2}powerState=Running/)
    // before the Kubernetes reads
    expect(precheckLog(r).indexOf('--- step: AKS cluster')).toBeLessThan(precheckLog(r).indexOf('--- step: namespace txlookup'))
  })

  test('fault aks-not-succeeded: precheck blocked:ENVIRONMENT_BLOCKED naming Updating, every other rehearsal gate BLOCKED, exit 2', () => {
    envUp(['aks-not-succeeded'])
    const r = runGates(['--tag', 'rehearsal'])
    expect(outcome(r.summary, 'rehearsal')).toEqual(
      Object.fromEntries(REHEARSAL.map((g) => [g, g === 'precheck' ? 'blocked:ENVIRONMENT_BLOCKED' : 'blocked'])),
    )
    expect(r.summary.decision).toBe('BLOCKED')
    expect(r.code).toBe(2)
    expect(precheck(r)?.reason).toMatch(/provisioningState Updating \(powerState Running\), not Succeeded/)
    const step = aksStep(r)
    expect(step).toContain(AZ_LINE)
    expect(step).toMatch(/\nexit_code: 1\n/)
    expect(step).toMatch(/\nresult: fail\n/)
    expect(step).toContain('Updating')
    // the rehearsal stopped: no Kubernetes read after the AKS step
    expect(precheckLog(r)).not.toContain('--- step: namespace txlookup')
  })

  test('ARM rejects the token: could not check → ENVIRONMENT_BLOCKED with the 401 and its ARM code; the token appears nowhere', () => {
    envUp([])
    const token = `wrong-arm-token-${Date.now().toString(36)}`
    const r = runGates(['--tag', 'precheck'], { CLOSEOUT_LOCAL_ARM_TOKEN: token })
    expect(outcome(r.summary, 'rehearsal')).toEqual({ precheck: 'blocked:ENVIRONMENT_BLOCKED' })
    expect(r.code).toBe(2)
    expect(precheck(r)?.reason).toMatch(
      /GET https:\/\/127\.0\.0\.1:\d+\/subscriptions\/.*managedClusters\/nsc-aks-dev\?api-version=2025-08-01 answered 401 \(InvalidAuthenticationToken/,
    )
    expect(aksStep(r)).toContain('provisioningState: unknown')
    const dir = bundleOf(r)
    const written =
      readdirSync(dir)
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .join('\n') + readFileSync(join(ROOT, 'reports', 'runs', r.runId, 'summary.json'), 'utf8')
    expect(written).not.toContain(token)
  })

  test('a profile without aks: the check is recorded as skipped with the reason, precheck still passes', () => {
    const local = readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8')
    const without = local.replace(/^aks:\n( {2}.*\n)+/m, '')
    expect(without).not.toMatch(/^aks:/m)
    const file = join(mkdtempSync(join(tmpdir(), 'aks-precheck-')), 'local-no-aks.yaml')
    writeFileSync(file, without)
    const r = runGates(['--tag', 'precheck', '--target', file])
    expect(outcome(r.summary, 'rehearsal')).toEqual({ precheck: 'passed' })
    expect(precheckLog(r)).toMatch(
      /--- step: AKS provisioningState \(skipped\)[\s\S]*reason: aks \(subscriptionId, resourceGroup, name\) is not set in the target profile/,
    )
  })
})
