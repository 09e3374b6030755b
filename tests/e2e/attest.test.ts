// Issue 11 end to end against the local environment: a signed closeout bundle verifies and fails on a
// changed file and a wrong key; the consumer-stale fault's NO_GO becomes GO under a waiver in force
// (through applyPolicy + the decision over the gates that count), stays NO_GO under an expired one,
// and is GO when the gate is advisory; diff and "since the last GO" name the changed gate.

import { generateKeyPairSync } from 'node:crypto'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decide } from '../../helpers/decision.ts'
import { applyPolicy, countsForDecision, type DecisionPolicy } from '../../helpers/policy.ts'
import { envUp, node, ROOT, runGates, type SuiteRun } from './_run.ts'

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
const decideUnder = (run: SuiteRun, policy: DecisionPolicy) => {
  const o = applyPolicy(run.summary.gates, policy, new Date(run.summary.finishedAt))
  return { o, decision: decide(o.gates.filter(countsForDecision) as Parameters<typeof decide>[0]) }
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

  test('the freshness breach is NO_GO; a waiver in force makes it WAIVED and GO; an expired one leaves NO_GO; advisory leaves GO', () => {
    expect(stale.code).toBe(1)
    expect(stale.summary.decision).toBe('NO_GO')
    const inForce = decideUnder(stale, waiver('2099-01-01T00:00:00Z'))
    expect(inForce.decision).toBe('GO')
    expect(inForce.o.gates.find((g) => g.id === 'consumer-freshness')).toMatchObject({
      status: 'waived',
      classification: 'FRESHNESS_SLO_BREACHED',
    })
    expect(inForce.o.waiversInForce).toHaveLength(1)
    const expired = decideUnder(stale, waiver('2020-01-01T00:00:00Z'))
    expect(expired.decision).toBe('NO_GO')
    expect(expired.o.waiversExpired).toHaveLength(1)
    expect(decideUnder(stale, { waivers: [], advisory: ['closeout/consumer-freshness'] }).decision).toBe('GO')
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
})
