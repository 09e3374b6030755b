// The sign-in paths a real AKS run takes, end to end through `pnpm test` (bin/test.ts):
// - workload identity: no static token in the profile (fixtures/targets/local-workload-identity.yaml),
//   only the variables the AKS webhook injects; DefaultAzureCredential → WorkloadIdentityCredential
//   exchanges the federated token file at the Entra ID double (through the proxy that answers for
//   login.microsoftonline.com), and the Log Analytics, registry and ARM doubles verify the tokens;
// - an expired or wrong-audience token (a second Entra double issuing them, signed with the same key):
//   MONITORING_ACCESS_BLOCKED for the metrics gates, ENVIRONMENT_BLOCKED for the registry and ARM checks;
// - the kubeconfig's exec-credential plugin (kubelogin's way): GO, and a failing plugin blocks baseline.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EntraDoubleConfig, type EntraEnvInfo, workloadIdentityEnv } from '../../fixtures/local-env/entra-double.ts'
import type { EnvJson } from '../../fixtures/local-env/env.ts'
import { envUp, outcome, ROOT, runGates, type SuiteRun } from './_run.ts'

const PROFILE = 'fixtures/targets/local-workload-identity.yaml'
const TAGS = ['--tag', 'closeout', '--tag', 'precheck']
const dir = mkdtempSync(join(tmpdir(), 'sign-in-'))
const envJson = (): EnvJson => JSON.parse(readFileSync(join(ROOT, 'reports/local-env/env.json'), 'utf8')) as EnvJson
const entraInfo = (): EntraEnvInfo => envJson().entra as EntraEnvInfo
/** no static token may reach the run: the local profiles' token variables are emptied */
const NO_STATIC = {
  CLOSEOUT_LOCAL_MONITOR_TOKEN: 'no-static-token',
  CLOSEOUT_LOCAL_REGISTRY_TOKEN: 'no-static-token',
  CLOSEOUT_LOCAL_ARM_TOKEN: 'no-static-token',
}
const gate = (r: SuiteRun, id: string) => r.summary.gates.find((g) => g.id === id)

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
}

/** A second Entra ID double with a knob (expired tokens, another audience), same keys as the env's. */
async function startMisbehavingEntra(knobs: Partial<EntraDoubleConfig>): Promise<{ info: EntraEnvInfo; child: ChildProcess }> {
  const base = JSON.parse(readFileSync(join(ROOT, 'reports/local-env/entra.json'), 'utf8')) as EntraDoubleConfig
  const cfg: EntraDoubleConfig = { ...base, port: await freePort(), proxyPort: await freePort(), ...knobs }
  const file = join(dir, `entra-${Math.random().toString(36).slice(2, 8)}.json`)
  writeFileSync(file, JSON.stringify(cfg))
  const child = spawn(process.execPath, [join(ROOT, 'fixtures/local-env/entra-double.ts'), file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`Entra double did not start: ${out}`)), 15_000)
    const on = (d: Buffer) => {
      out += d.toString()
      if (out.includes('Entra ID double')) {
        clearTimeout(t)
        resolve()
      }
    }
    child.stdout?.on('data', on)
    child.stderr?.on('data', on)
  })
  return { info: { ...entraInfo(), url: `https://127.0.0.1:${cfg.port}`, proxyUrl: `http://127.0.0.1:${cfg.proxyPort}` }, child }
}

describe('workload identity end to end (Entra ID double)', { timeout: 300_000 }, () => {
  beforeAll(() => {
    envUp([])
  })

  test('no static token, only the webhook variables: GO, and the Entra double issued a token for each service', () => {
    const logFile = join(ROOT, 'reports/local-env/logs/entra.log')
    const before = readFileSync(logFile, 'utf8').length
    const r = runGates(TAGS.concat('--target', PROFILE), { ...NO_STATIC, ...workloadIdentityEnv(entraInfo()) })
    expect(
      r.summary.gates.filter((g) => g.status !== 'passed'),
      r.stdout,
    ).toEqual([])
    expect(r.summary.decision).toBe('GO')
    expect(r.code).toBe(0)
    const issued = readFileSync(logFile, 'utf8').slice(before)
    for (const aud of ['https://api.loganalytics.io', 'https://containerregistry.azure.net', 'https://management.azure.com'])
      expect(issued).toContain(`issued token aud=${aud} `)
  })

  test('without the variables the same profile cannot sign in: BLOCKED, never GO', () => {
    // --keep-going: consumer-rollout's blocked registry sign-in stops the closeout (F3-4 Task 2), and the
    // monitoring gates must still show what their own sign-in gave (as advisory results)
    const r = runGates(TAGS.concat('--target', PROFILE, '--keep-going'), {
      ...NO_STATIC,
      AZURE_CLIENT_ID: '',
      AZURE_TENANT_ID: '',
      AZURE_FEDERATED_TOKEN_FILE: '',
      AZURE_AUTHORITY_HOST: '',
    })
    expect(r.summary.decision).toBe('BLOCKED')
    expect(gate(r, 'consumer-lag')?.classification).toBe('MONITORING_ACCESS_BLOCKED')
    expect(gate(r, 'precheck')?.classification).toBe('ENVIRONMENT_BLOCKED')
  })

  const misbehaving: [string, Partial<EntraDoubleConfig>, RegExp][] = [
    ['an expired token', { accessTokenLifetimeSeconds: -7200 }, /expire/i],
    ['a token for another audience', { audienceOverride: 'https://storage.azure.com' }, /audience/i],
  ]
  for (const [what, knobs, said] of misbehaving) {
    test(`${what}: monitoring MONITORING_ACCESS_BLOCKED, registry and ARM ENVIRONMENT_BLOCKED, with the reason`, async () => {
      const { info, child } = await startMisbehavingEntra(knobs)
      try {
        const r = runGates(TAGS.concat('--target', PROFILE, '--keep-going'), { ...NO_STATIC, ...workloadIdentityEnv(info) })
        expect(r.code).toBe(2)
        const o = outcome(r.summary)
        // after consumer-rollout's block the closeout stops; --keep-going shows the monitoring gates' own verdict
        expect(o['consumer-lag']).toBe('advisory:MONITORING_ACCESS_BLOCKED')
        expect(o['consumer-freshness']).toBe('advisory:MONITORING_ACCESS_BLOCKED')
        expect(o['consumer-rollout']).toBe('blocked:ENVIRONMENT_BLOCKED')
        expect(o.precheck).toBe('blocked:ENVIRONMENT_BLOCKED')
        expect(gate(r, 'consumer-lag')?.reason).toMatch(/401/)
        // the registry and ARM messages carry what the service said about the token
        expect(gate(r, 'consumer-rollout')?.reason).toMatch(said)
        expect(gate(r, 'precheck')?.reason).toMatch(said)
        for (const g of r.summary.gates) expect(g.reason ?? '').not.toMatch(/eyJ[\w-]{20,}/)
      } finally {
        child.kill('SIGTERM')
      }
    })
  }
})

describe('exec-credential plugin in the kubeconfig (the kubelogin path)', { timeout: 300_000 }, () => {
  beforeAll(() => {
    envUp([])
  })

  test('the demo environment writes kubeconfig-exec; the closeout suite is GO through it', () => {
    const kc = envJson().kubeconfigExec as string
    expect(readFileSync(kc, 'utf8')).toMatch(
      /exec:\n\s+apiVersion: client\.authentication\.k8s\.io\/v1\n\s+command: .+node"?\n\s+args:\n\s+- .+kube-exec-credential\.ts"?/,
    )
    expect(readFileSync(kc, 'utf8')).not.toMatch(/\btoken:/)
    const r = runGates(['--tag', 'closeout'], { CLOSEOUT_LOCAL_KUBECONFIG: kc })
    expect(r.summary.gates.filter((g) => g.status !== 'passed')).toEqual([])
    expect(r.code).toBe(0)
  })

  const failing = (script: string) => {
    const kc = join(dir, `kubeconfig-${Math.random().toString(36).slice(2, 8)}`)
    const text = readFileSync(envJson().kubeconfigExec as string, 'utf8').replace(
      /command: .+\n(\s+)args:\n(?:\s+- .*\n)+/,
      (_m, ind: string) => `command: sh\n${ind}args:\n${ind}- -c\n${ind}- ${JSON.stringify(script)}\n`,
    )
    writeFileSync(kc, text)
    return kc
  }

  test.each([
    ['fails', 'echo "kubelogin: AADSTS700024: Client assertion is not within its valid time range" >&2; exit 1', /AADSTS700024/],
    ['prints garbage', 'echo "<html>sign in</html>"', /printed something that is not an ExecCredential JSON document/],
  ])('a plugin that %s: baseline ENVIRONMENT_BLOCKED with what the plugin said, nothing else runs', (_what, script, said) => {
    const r = runGates(['--tag', 'closeout'], { CLOSEOUT_LOCAL_KUBECONFIG: failing(script) })
    expect(r.code).toBe(2)
    expect(gate(r, 'baseline')).toMatchObject({ status: 'blocked', classification: 'ENVIRONMENT_BLOCKED' })
    expect(gate(r, 'baseline')?.reason).toMatch(said)
  })

  // the kube layer names users[].exec.command (helpers/kube/config.ts describeCredentialFailure)
  test('the blocked reason names the plugin command', () => {
    const r = runGates(['--tag', 'baseline'], { CLOSEOUT_LOCAL_KUBECONFIG: failing('echo boom >&2; exit 1') })
    expect(gate(r, 'baseline')?.reason).toMatch(/exec plugin|credential plugin/i)
    expect(gate(r, 'baseline')?.reason).toMatch(/\bsh\b/)
  })

  afterAll(() => {
    envUp([])
  })
})
