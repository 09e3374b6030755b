// Signed evidence: a fresh bundle verifies; a changed byte, a changed signature, a wrong key, an
// added file and a rewritten manifest each fail with the file named. cosign, where installed, accepts it.

import { spawnSync } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { runVerify } from '../../bin/verify.ts'
import {
  ATTESTATION_FILES,
  type AttestSummary,
  DECISION_TYPE,
  type DsseEnvelope,
  describeRunbookRevision,
  loadSigningKey,
  pae,
  TEST_RESULT_TYPE,
  testResultPredicate,
  writeAttestation,
} from '../../helpers/attest.ts'
import { writeManifest } from '../../helpers/bundle.ts'
import { verifyBundle } from '../../helpers/verify-bundle.ts'

const summary: AttestSummary = {
  suite: 'closeout',
  runId: '20261201_120000',
  target: 'local (fixtures/targets/local.yaml)',
  startedAt: '2026-12-01T12:00:00.000Z',
  finishedAt: '2026-12-01T12:00:05.000Z',
  decision: 'GO',
  gates: [
    { id: 'baseline', suite: 'closeout', status: 'passed', classification: null, reason: null },
    { id: 'smoke-200', suite: 'closeout', status: 'passed', classification: null, reason: null },
  ],
  classifications: [],
  retry: null,
}

function pem(k: KeyObject, type: 'pkcs8' | 'spki'): string {
  return k.export({ type, format: 'pem' }).toString()
}

function makeKeys(dir: string, kind: 'ec' | 'ed25519', name: string): { priv: string; pub: string } {
  const { privateKey, publicKey } = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519')
  const priv = join(dir, `${name}.key`)
  const pub = join(dir, `${name}.pub`)
  writeFileSync(priv, pem(privateKey, 'pkcs8'))
  writeFileSync(pub, pem(publicKey, 'spki'))
  return { priv, pub }
}

function makeBundle(keyFile?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bundle-'))
  writeFileSync(join(dir, '01_aks_namespace_state.log'), 'namespace txlookup Active\n')
  writeFileSync(
    join(dir, 'evidence.jsonl'),
    JSON.stringify({ gate: 'baseline', stdout: '{\n  "images": [\n    "api=nscacrdevw4mlu8.azurecr.io/txlookup/api:2026.11.1"\n  ]\n}' }) +
      '\n',
  )
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary))
  writeManifest(dir)
  writeAttestation(dir, summary, {
    keyFile,
    profileFile: 'fixtures/targets/local.yaml',
    runbookRevision: describeRunbookRevision(process.cwd()),
  })
  return dir
}

for (const kind of ['ec', 'ed25519'] as const) {
  describe(`signed bundle (${kind === 'ec' ? 'ECDSA P-256' : 'Ed25519'})`, () => {
    let keys: { priv: string; pub: string }
    let other: { priv: string; pub: string }
    let dir: string
    beforeEach(() => {
      const kdir = mkdtempSync(join(tmpdir(), 'keys-'))
      keys = makeKeys(kdir, kind, 'closeout')
      other = makeKeys(kdir, kind, 'other')
      dir = makeBundle(keys.priv)
    })

    it('a fresh bundle verifies with the signer key (exit 0)', () => {
      const r = verifyBundle(dir, keys.pub)
      expect(r.problems).toEqual([])
      expect(r.ok).toBe(true)
      expect(r.decision).toBe('GO')
      expect(runVerify([dir, '--key', keys.pub])).toBe(0)
    })

    it('a changed byte in an evidence file fails, naming the file (exit 1)', () => {
      appendFileSync(join(dir, '01_aks_namespace_state.log'), 'x')
      const r = verifyBundle(dir, keys.pub)
      expect(r.ok).toBe(false)
      expect(r.problems).toContain('01_aks_namespace_state.log: changed (sha256 differs from MANIFEST.sha256)')
      expect(runVerify([dir, '--key', keys.pub])).toBe(1)
    })

    it('a rewritten manifest (file and manifest changed together) still fails: the statement covers it', () => {
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({ ...summary, decision: 'GO', classifications: ['edited'] }))
      writeManifest(dir)
      const r = verifyBundle(dir, keys.pub)
      expect(r.problems).toContain('MANIFEST.sha256: changed after it was attested (ATTESTATION.test-result.dsse.json)')
      expect(r.problems).toContain('summary.json: manifest digest differs from the attested one (ATTESTATION.test-result.dsse.json)')
    })

    it('a changed signature fails, naming the envelope', () => {
      const f = join(dir, ATTESTATION_FILES.decision)
      const env = JSON.parse(readFileSync(f, 'utf8')) as DsseEnvelope
      const sig = Buffer.from(env.signatures[0].sig, 'base64')
      sig[sig.length - 1] ^= 1
      env.signatures[0].sig = sig.toString('base64')
      writeFileSync(f, JSON.stringify(env))
      expect(verifyBundle(dir, keys.pub).problems).toEqual([
        `${ATTESTATION_FILES.decision}: signature does not verify with ${keys.pub} (wrong key, or the envelope was changed)`,
      ])
    })

    it('a re-signed statement (payload edited) fails with the signer key', () => {
      const f = join(dir, ATTESTATION_FILES.decision)
      const env = JSON.parse(readFileSync(f, 'utf8')) as DsseEnvelope
      const st = JSON.parse(Buffer.from(env.payload, 'base64').toString())
      st.predicate.decision = 'GO'
      st.predicate.classifications = ['nothing to see']
      env.payload = Buffer.from(JSON.stringify(st)).toString('base64')
      writeFileSync(f, JSON.stringify(env))
      expect(verifyBundle(dir, keys.pub).problems.join('\n')).toMatch(/ATTESTATION.decision.dsse.json: signature does not verify/)
    })

    it('a wrong key fails (both envelopes named)', () => {
      const r = verifyBundle(dir, other.pub)
      expect(r.ok).toBe(false)
      expect(r.problems).toHaveLength(2)
      expect(r.problems[0]).toMatch(/ATTESTATION.test-result.dsse.json: signature does not verify with .*other.pub/)
    })

    it('an added file is named', () => {
      writeFileSync(join(dir, '10_extra.log'), 'late\n')
      expect(verifyBundle(dir, keys.pub).problems).toEqual(['10_extra.log: not in MANIFEST.sha256 (added after the run)'])
    })
  })
}

describe('attestation content', () => {
  it('test-result predicate: a GO with a waived gate is WARNED, a BLOCKED run is FAILED (never a pass)', () => {
    const waived = {
      ...summary,
      gates: [
        ...summary.gates,
        { id: 'consumer-freshness', suite: 'closeout', status: 'waived', classification: 'FRESHNESS_SLO_BREACHED', reason: 'WAIVED' },
      ],
    }
    expect(testResultPredicate(summary, []).result).toBe('PASSED')
    expect(testResultPredicate(waived, [])).toMatchObject({ result: 'WARNED', warnedTests: ['closeout/consumer-freshness'] })
    const blocked = {
      ...summary,
      decision: 'BLOCKED' as const,
      gates: [{ id: 'consumer-lag', suite: 'closeout', status: 'blocked', classification: 'MONITORING_ACCESS_BLOCKED', reason: 'x' }],
    }
    expect(testResultPredicate(blocked, [])).toMatchObject({ result: 'FAILED', failedTests: ['closeout/consumer-lag'] })
  })

  it('statements list every manifest file and the manifest as subjects; the decision predicate has images and configuration', () => {
    const kdir = mkdtempSync(join(tmpdir(), 'keys-'))
    const dir = makeBundle(makeKeys(kdir, 'ec', 'k').priv)
    const read = (f: string) =>
      JSON.parse(Buffer.from((JSON.parse(readFileSync(join(dir, f), 'utf8')) as DsseEnvelope).payload, 'base64').toString())
    const tr = read(ATTESTATION_FILES.testResult)
    expect(tr.predicateType).toBe(TEST_RESULT_TYPE)
    expect(tr.subject.map((s: { name: string }) => s.name).sort()).toEqual([
      '01_aks_namespace_state.log',
      'MANIFEST.sha256',
      'evidence.jsonl',
      'summary.json',
    ])
    expect(tr.predicate.configuration[0].digest.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(tr.predicate.configuration[1].digest.sha256).toMatch(/^[0-9a-f]{64}$/)
    const d = read(ATTESTATION_FILES.decision)
    expect(d.predicateType).toBe(DECISION_TYPE)
    expect(d.predicate).toMatchObject({
      decision: 'GO',
      runId: summary.runId,
      imagesSeen: ['nscacrdevw4mlu8.azurecr.io/txlookup/api:2026.11.1'],
    })
  })

  it('without a key the statements are written unsigned and verify says so; --key then fails', () => {
    const dir = makeBundle(undefined)
    const r = verifyBundle(dir)
    expect(r.ok).toBe(true)
    expect(r.notes.join('\n')).toMatch(/not signed/)
    const kdir = mkdtempSync(join(tmpdir(), 'keys-'))
    expect(verifyBundle(dir, makeKeys(kdir, 'ec', 'k').pub).problems[0]).toMatch(/not signed, but a signature was required/)
  })

  it('rejects an RSA key and never prints key text', () => {
    const kdir = mkdtempSync(join(tmpdir(), 'keys-'))
    const f = join(kdir, 'rsa.key')
    writeFileSync(f, pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'pkcs8'))
    expect(() => loadSigningKey({ keyFile: f })).toThrow(/key type rsa is not supported; use ECDSA P-256 or Ed25519/)
    expect(() => loadSigningKey({ keyEnv: 'X' }, { X: 'not a key SECRETVALUE' })).toThrow(/^(?!.*SECRETVALUE).*not a PEM private key/)
  })

  it('PAE is the DSSE v1 encoding', () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    )
  })

  it('usage errors exit 3', () => {
    expect(runVerify([])).toBe(3)
    expect(runVerify(['/nonexistent/bundle'])).toBe(3)
  })

  // cosign is not packaged in Debian bookworm (apt-cache policy cosign: no candidate), so this runs
  // only where a cosign binary is on PATH (a CI image with it, a developer's machine).
  const cosign = spawnSync('cosign', ['version'], { encoding: 'utf8' })
  it.skipIf(cosign.error !== undefined || cosign.status !== 0)(
    'cosign verify-blob-attestation accepts both envelopes (skipped: cosign not installed; Debian has no package)',
    () => {
      const kdir = mkdtempSync(join(tmpdir(), 'keys-'))
      const keys = makeKeys(kdir, 'ec', 'cosign')
      const dir = makeBundle(keys.priv)
      for (const [f, type] of [
        [ATTESTATION_FILES.testResult, TEST_RESULT_TYPE],
        [ATTESTATION_FILES.decision, DECISION_TYPE],
      ]) {
        const r = spawnSync(
          'cosign',
          [
            'verify-blob-attestation',
            '--key',
            keys.pub,
            '--type',
            type,
            '--signature',
            join(dir, f),
            '--insecure-ignore-tlog=true',
            join(dir, 'summary.json'),
          ],
          { encoding: 'utf8' },
        )
        expect(r.status, r.stderr).toBe(0)
      }
    },
  )
})
