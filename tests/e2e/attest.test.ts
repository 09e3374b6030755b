// Issue 11 end to end against the local environment: a signed closeout bundle verifies and fails on a
// changed file and a wrong key; with the consumer-stale fault, a profile whose policy waives the
// freshness breach makes the run's own summary.json GO with the gate WAIVED (the 99 file lists the
// waiver), an expired waiver leaves NO_GO, an advisory gate leaves GO, a waiver naming no gate is a
// configuration error (exit 3); diff and "since the last GO" name the changed gate; --notify posts the
// decision card to a local webhook and the URL is nowhere under reports/.

import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { stringify } from 'yaml'
import type { Summary } from '../../helpers/decision.ts'
import type { DecisionPolicy } from '../../helpers/policy.ts'
import { envUp, node, ROOT, runGates, type SuiteRun, spawnGates, uniqueRunId } from './_run.ts'

const keys = mkdtempSync(join(tmpdir(), 'attest-keys-'))
function keyPair(name: string): { priv: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const priv = join(keys, `${name}.key`)
  const pub = join(keys, `${name}.pub`)
  writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }))
  return { priv, pub }
}
const signer = keyPair('signer')
const other = keyPair('other')

const waiver = (expiresAt: string): DecisionPolicy => ({
  waivers: [
    {
      gate: 'consumer-freshness',
      classification: 'FRESHNESS_SLO_BREACHED',
      reason: 'consumer catch-up after the reload, OPS-4711',
      owner: 'data-platform',
      ticket: 'OPS-4711',
      expiresAt,
    },
  ],
  advisory: [],
})
/** fixtures/targets/local.yaml with a policy section, in a temp dir (the profile is self-contained) */
function profileWith(name: string, policy: DecisionPolicy): string {
  const file = join(keys, `${name}.yaml`)
  writeFileSync(file, `${readFileSync(join(ROOT, 'fixtures', 'targets', 'local.yaml'), 'utf8')}\n${stringify({ policy })}`)
  return file
}
const FRESHNESS_RUN = ['--tag', 'baseline', '--tag', 'consumer-freshness']
const gateOf = (s: Summary, id: string) => s.gates.find((g) => g.id === id)
const read99 = (s: Summary) => readFileSync(join(s.bundles.closeout, '99_f3_4_runtime_summary.md'), 'utf8')

/** every file under dir whose bytes contain `needle` (relative paths) */
function filesContaining(dir: string, needle: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      const st = statSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile() && readFileSync(p).includes(needle)) out.push(p.slice(dir.length + 1))
    }
  }
  walk(dir)
  return out
}

describe('signed evidence, decision policy and comparison (local environment)', () => {
  let go: SuiteRun
  let stale: SuiteRun
  beforeAll(() => {
    envUp([])
    go = runGates(['--tag', 'closeout'], { CLOSEOUT_SIGNING_KEY_FILE: signer.priv })
    envUp(['consumer-stale'])
    stale = runGates(['--tag', 'closeout'], { CLOSEOUT_SIGNING_KEY_FILE: signer.priv })
  })
  afterAll(() => {
    envUp([])
  })

  test('a fresh signed bundle verifies offline with the signer key (exit 0)', () => {
    expect(go.code).toBe(0)
    const dir = go.summary.bundles.closeout
    expect(existsSync(join(dir, 'ATTESTATION.test-result.dsse.json'))).toBe(true)
    const r = node(['bin/verify.ts', dir, '--key', signer.pub])
    expect(r.stdout).toMatch(/^VERIFIED /)
    expect(r.code).toBe(0)
  })

  test('a wrong key fails (exit 1), a changed evidence byte fails naming the file (exit 1)', () => {
    const dir = stale.summary.bundles.closeout
    expect(node(['bin/verify.ts', dir, '--key', signer.pub]).code).toBe(0)
    const wrong = node(['bin/verify.ts', dir, '--key', other.pub])
    expect(wrong.code).toBe(1)
    expect(wrong.stdout).toMatch(/FAIL ATTESTATION.decision.dsse.json: signature does not verify/)
    appendFileSync(join(dir, '08_consumer_freshness.log'), ' ')
    const tampered = node(['bin/verify.ts', dir, '--key', signer.pub])
    expect(tampered.code).toBe(1)
    expect(tampered.stdout).toContain('FAIL 08_consumer_freshness.log: changed (sha256 differs from MANIFEST.sha256)')
  })

  test('closeout diff names the changed gate; the NO_GO summary compares with the GO run before it', () => {
    const d = node(['bin/diff.ts', go.runId, stale.runId])
    expect(d.code).toBe(1)
    expect(d.stdout).toMatch(/\| closeout\/consumer-freshness \| passed \| failed \(FRESHNESS_SLO_BREACHED\) \|/)
    expect(d.stdout).toMatch(/consumer freshness query: max\(max_freshness\)/)
    const md = readFileSync(join(ROOT, 'reports', 'latest', 'summary.md'), 'utf8')
    expect(md).toContain(`## Since the last GO (closeout ${go.runId}`)
    expect(md).toContain('## Runbook coverage')
    const ctrf = JSON.parse(readFileSync(join(ROOT, 'reports', 'ctrf.json'), 'utf8'))
    expect(ctrf.extra).toMatchObject({ decision: 'NO_GO', runId: stale.runId, classifications: ['FRESHNESS_SLO_BREACHED'] })
    expect(readFileSync(join(ROOT, 'reports', 'junit.xml'), 'utf8')).toContain('<property name="closeout.decision" value="NO_GO"/>')
  })

  test('the freshness breach is NO_GO; under a waiver in force the run is GO with the gate WAIVED in summary.json and the 99 file', () => {
    expect(stale.code).toBe(1)
    expect(stale.summary.decision).toBe('NO_GO')
    const run = runGates([...FRESHNESS_RUN, '--target', profileWith('waived', waiver('2099-01-01T00:00:00Z'))], {
      CLOSEOUT_SIGNING_KEY_FILE: signer.priv,
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.summary.decision).toBe('GO')
    expect(run.summary.retry).toBeNull()
    expect(gateOf(run.summary, 'consumer-freshness')).toMatchObject({
      status: 'waived',
      classification: 'FRESHNESS_SLO_BREACHED',
      policy: { originalStatus: 'failed' },
    })
    expect(gateOf(run.summary, 'baseline')?.status).toBe('passed')
    expect(run.summary.waiversInForce).toHaveLength(1)
    const md = read99(run.summary)
    expect(md).toContain('decision: **GO**')
    expect(md).toMatch(/## Waivers in force[\s\S]*\| consumer-freshness \| FRESHNESS_SLO_BREACHED \| OPS-4711 \| data-platform \|/)
    expect(md).toContain('| consumer-freshness | WAIVED | FRESHNESS_SLO_BREACHED | WAIVED by OPS-4711')
    // the waived decision is what the signed bundle attests
    const v = node(['bin/verify.ts', run.summary.bundles.closeout, '--key', signer.pub])
    expect(v.code, v.stdout).toBe(0)
    expect(v.stdout).toMatch(/decision \(attested\): GO/)
  })

  test('an expired waiver leaves NO_GO (listed as expired); an advisory gate leaves GO; a waiver naming no gate is exit 3', () => {
    const expired = runGates([...FRESHNESS_RUN, '--target', profileWith('expired', waiver('2020-01-01T00:00:00Z'))])
    expect(expired.code).toBe(1)
    expect(expired.summary.decision).toBe('NO_GO')
    expect(gateOf(expired.summary, 'consumer-freshness')?.status).toBe('failed')
    expect(expired.summary.waiversExpired).toHaveLength(1)
    expect(read99(expired.summary)).toContain('## Waivers expired (ignored: the failure decides)')
    const advisory = runGates([
      ...FRESHNESS_RUN,
      '--target',
      profileWith('advisory', { waivers: [], advisory: ['closeout/consumer-freshness'] }),
    ])
    expect(advisory.code).toBe(0)
    expect(advisory.summary.decision).toBe('GO')
    expect(gateOf(advisory.summary, 'consumer-freshness')).toMatchObject({ status: 'advisory', policy: { originalStatus: 'failed' } })
    expect(read99(advisory.summary)).toMatch(
      /## Advisory \(ran, never decide\)[\s\S]*\| closeout\/consumer-freshness \| FAILED \(policy\.advisory\) \|/,
    )
    const typo = waiver('2099-01-01T00:00:00Z')
    typo.waivers[0].gate = 'consumer-freshnes'
    const bad = runGates([...FRESHNESS_RUN, '--target', profileWith('typo', typo)])
    expect(bad.code).toBe(3)
    expect(bad.stderr).toMatch(/policy\.waivers\[0\]\.gate: no gate "consumer-freshnes" in the catalogue/)
    expect(bad.summary.decision).toBe('BLOCKED')
    expect(bad.summary.configError).toMatch(/policy\.waivers\[0\]\.gate/)
  })

  test('--notify posts the decision card to the webhook after the run; the URL is nowhere under reports/', async () => {
    const bodies: string[] = []
    const server = createServer((req, res) => {
      let b = ''
      req.on('data', (c) => (b += c))
      req.on('end', () => {
        bodies.push(`${req.method} ${req.url} ${b}`)
        res.writeHead(200).end('ok')
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const secret = `HOOKSECRET${randomBytes(6).toString('hex')}`
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/${secret}`
    const runId = uniqueRunId('notify')
    const child = spawnGates(['--tag', 'smoke-404', '--run-id', runId, '--notify', url, '--notify-format', 'slack'])
    let stdout = ''
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.on('data', (c) => (stdout += c))
    const code = await new Promise<number | null>((r) => child.on('exit', r))
    server.close()
    expect(code, stdout).toBe(0)
    expect(stdout).toMatch(/closeout: notify: decision card posted to the Slack webhook \(HTTP 200\)/)
    expect(stdout).not.toContain(secret)
    expect(bodies).toHaveLength(1)
    expect(bodies[0]).toMatch(new RegExp(`^POST /services/T000/B000/${secret} `))
    const card = JSON.parse(bodies[0].slice(bodies[0].indexOf('{'))) as { text: string }
    expect(card.text).toMatch(/GO/)
    expect(JSON.parse(readFileSync(join(ROOT, 'reports', 'runs', runId, 'run.json'), 'utf8')).command).toMatch(/--notify '\*\*\*'/)
    expect(filesContaining(join(ROOT, 'reports'), secret)).toEqual([])
  }, 120_000)
})
