// Signed, portable evidence: two in-toto Statements v1 over the bundle (subjects = every file of
// MANIFEST.sha256 plus the manifest itself), one with the in-toto test-result predicate and one with
// our decision predicate, each in a DSSE envelope signed with ECDSA P-256 or Ed25519 (node:crypto).
// An envelope file is what `cosign verify-blob-attestation --key PUB --signature ENVELOPE
// --type TYPE --insecure-ignore-tlog BUNDLE/summary.json` takes (cosign checks the PAE signature and
// that the blob's sha256 is one of the subjects). The attestation files are written AFTER the manifest,
// are not listed in it, and are the only files a bundle may have beside it (ATTESTATION_FILES).

import { execFileSync } from 'node:child_process'
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
export const TEST_RESULT_TYPE = 'https://in-toto.io/attestation/test-result/v0.1'
/** our own predicate (a URN: no web page is claimed for it) */
export const DECISION_TYPE = 'urn:closeout:attestation:decision:v1'
export const PAYLOAD_TYPE = 'application/vnd.in-toto+json'

export const ATTESTATION_FILES = {
  testResult: 'ATTESTATION.test-result.dsse.json',
  decision: 'ATTESTATION.decision.dsse.json',
  publicKey: 'ATTESTATION.pub.pem',
} as const
export const ATTESTATION_FILE_NAMES: readonly string[] = Object.values(ATTESTATION_FILES)

export interface ResourceDescriptor {
  name: string
  uri?: string
  digest: Record<string, string>
  annotations?: Record<string, string>
}

/** The fields of core's Summary the attestation reads (kept narrow so core can reshape the rest). */
export interface AttestSummary {
  suite: string
  runId: string
  target: string
  startedAt: string
  finishedAt: string
  decision: 'GO' | 'NO_GO' | 'BLOCKED'
  gates: { id: string; suite: string; status: string; classification: string | null; reason: string | null }[]
  classifications: string[]
  retry: { owner: string; retryAtUtc: string; unblockCriteria: string[] } | null
  waiversInForce?: unknown[]
}

export interface DsseEnvelope {
  payloadType: string
  payload: string
  signatures: { keyid: string; sig: string }[]
}

/** DSSE v1 pre-authentication encoding: what is actually signed. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const t = Buffer.from(payloadType, 'utf8')
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${payload.length} `), payload])
}

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SigningKeyError'
  }
}

/** Only ECDSA P-256 (SHA-256, DER signature) and Ed25519: the two cosign verifies from a PEM key. */
function checkKeyType(k: KeyObject, where: string): void {
  if (k.asymmetricKeyType === 'ed25519') return
  if (k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1') return
  throw new SigningKeyError(
    `${where}: key type ${k.asymmetricKeyType}${k.asymmetricKeyDetails?.namedCurve ? ` (${k.asymmetricKeyDetails.namedCurve})` : ''} is not supported; use ECDSA P-256 or Ed25519 (openssl genpkey -algorithm ed25519 -out closeout.key)`,
  )
}

export interface KeySource {
  /** a PEM PKCS#8 private key file */
  keyFile?: string
  /** the name of an env var holding the PEM text (a CI secret) */
  keyEnv?: string
}

/** The signing key from a file or an env var; none given = undefined (the statements go unsigned). */
export function loadSigningKey(src: KeySource, env: NodeJS.ProcessEnv = process.env): KeyObject | undefined {
  const file = src.keyFile ?? env.CLOSEOUT_SIGNING_KEY_FILE
  const envName = src.keyEnv ?? (env.CLOSEOUT_SIGNING_KEY ? 'CLOSEOUT_SIGNING_KEY' : undefined)
  let pem: string | undefined
  let where: string
  if (file) {
    if (!existsSync(file))
      throw new SigningKeyError(`signing key file ${file} not found (set CLOSEOUT_SIGNING_KEY_FILE to a PEM private key)`)
    pem = readFileSync(file, 'utf8')
    where = `signing key file ${file}`
  } else if (envName) {
    pem = env[envName]
    where = `signing key in $${envName}`
    if (!pem) throw new SigningKeyError(`${where} is empty`)
  } else return undefined
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch {
    // never echo the key text: it is a secret
    throw new SigningKeyError(`${where} is not a PEM private key (PKCS#8 "BEGIN PRIVATE KEY" or "BEGIN EC PRIVATE KEY")`)
  }
  checkKeyType(key, where)
  return key
}

export function loadPublicKey(file: string): KeyObject {
  if (!existsSync(file)) throw new SigningKeyError(`public key file ${file} not found`)
  let key: KeyObject
  try {
    key = createPublicKey(readFileSync(file, 'utf8'))
  } catch {
    throw new SigningKeyError(`public key file ${file} is not a PEM public key ("BEGIN PUBLIC KEY")`)
  }
  checkKeyType(key, `public key file ${file}`)
  return key
}

function signBytes(key: KeyObject, data: Buffer): Buffer {
  return sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key)
}

export function verifyBytes(key: KeyObject, data: Buffer, sig: Buffer): boolean {
  try {
    return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key, sig)
  } catch {
    return false
  }
}

/** keyid stays empty: cosign's DSSE verifier skips a signature whose keyid differs from its own ("") */
export function signEnvelope(statement: object, key: KeyObject | undefined): DsseEnvelope {
  const payload = Buffer.from(JSON.stringify(statement), 'utf8')
  const signatures = key ? [{ keyid: '', sig: signBytes(key, pae(PAYLOAD_TYPE, payload)).toString('base64') }] : []
  return { payloadType: PAYLOAD_TYPE, payload: payload.toString('base64'), signatures }
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

/** Subjects: every manifest line (path + sha256) and the manifest itself, so the statement covers it. */
export function manifestSubjects(bundleDir: string): ResourceDescriptor[] {
  const manifest = join(bundleDir, 'MANIFEST.sha256')
  if (!existsSync(manifest)) throw new Error(`${manifest} not found: the attestation is written after the manifest (finalizeRun writes it)`)
  const out: ResourceDescriptor[] = []
  for (const line of readFileSync(manifest, 'utf8').split('\n').filter(Boolean)) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line)
    if (m) out.push({ name: m[2], digest: { sha256: m[1] } })
  }
  out.push({ name: 'MANIFEST.sha256', digest: { sha256: sha256File(manifest) } })
  return out
}

/** in-toto test-result: PASSED only for a GO with nothing waived or advisory-failed; a BLOCKED run is
 * FAILED (a policy engine reading `result` must never take "could not check" for a pass). */
export function testResultPredicate(s: AttestSummary, configuration: ResourceDescriptor[]): Record<string, unknown> {
  const name = (g: AttestSummary['gates'][number]) => `${g.suite}/${g.id}`
  const passed = s.gates.filter((g) => g.status === 'passed').map(name)
  const warned = s.gates.filter((g) => g.status === 'waived' || g.status === 'advisory').map(name)
  const failed = s.gates.filter((g) => ['failed', 'blocked', 'interrupted'].includes(g.status)).map(name)
  const result = s.decision !== 'GO' ? 'FAILED' : warned.length ? 'WARNED' : 'PASSED'
  return { result, configuration, passedTests: passed, warnedTests: warned, failedTests: failed }
}

export interface DecisionExtras {
  tCutover?: string | null
  imagesSeen?: string[]
}

export function decisionPredicate(s: AttestSummary, extras: DecisionExtras, configuration: ResourceDescriptor[]): Record<string, unknown> {
  return {
    decision: s.decision,
    suite: s.suite,
    runId: s.runId,
    target: s.target,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    classifications: s.classifications,
    retry: s.retry,
    tCutover: extras.tCutover ?? null,
    imagesSeen: extras.imagesSeen ?? [],
    waiversInForce: s.waiversInForce ?? [],
    gates: s.gates.map((g) => ({ id: g.id, suite: g.suite, status: g.status, classification: g.classification })),
    configuration,
  }
}

/** Images the evidence recorded (deployment/pod snapshots: `name=repo:tag`, `repo@sha256:…`). */
export function imagesSeen(bundleDir: string): string[] {
  const file = join(bundleDir, 'evidence.jsonl')
  if (!existsSync(file)) return []
  const text = readFileSync(file, 'utf8')
  const out = new Set<string>()
  const ref = /"(?:[a-z0-9_-]+=)?((?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9._/-]+(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?)"/g
  for (const line of text.split('\n').filter(Boolean)) {
    let rec: { stdout?: string }
    try {
      rec = JSON.parse(line) as { stdout?: string }
    } catch {
      continue
    }
    const images = /"images": \[([^\]]*)\]/g
    for (const m of (rec.stdout ?? '').matchAll(images)) for (const r of m[1].matchAll(ref)) if (/[:@]/.test(r[1])) out.add(r[1])
  }
  return [...out].sort()
}

/** T_cutover of a rehearsal, from its "fixed inputs" evidence record. */
export function tCutoverSeen(bundleDir: string): string | null {
  const file = join(bundleDir, 'evidence.jsonl')
  if (!existsSync(file)) return null
  const m = /T_cutover\\?"?:\s*\\?"?(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(readFileSync(file, 'utf8'))
  return m ? m[1] : null
}

export interface AttestOptions extends KeySource {
  /** the target profile file (its sha256 goes into the configuration) */
  profileFile?: string
  /** how the profile is named in the statement (default: profileFile; the finalizer passes the repository-relative path) */
  profileLabel?: string
  /** the runbook revision: the repository commit and a digest of specs/ */
  runbookRevision?: ResourceDescriptor
}

/** Write the two envelopes (and the public key, for a reader without one). Returns the files written. */
export function writeAttestation(bundleDir: string, summary: AttestSummary, opts: AttestOptions = {}): string[] {
  const key = loadSigningKey(opts)
  const subject = manifestSubjects(bundleDir)
  const configuration: ResourceDescriptor[] = []
  if (opts.profileFile && existsSync(opts.profileFile))
    configuration.push({
      name: `target profile ${opts.profileLabel ?? opts.profileFile}`,
      uri: opts.profileLabel ?? opts.profileFile,
      digest: { sha256: sha256File(opts.profileFile) },
    })
  if (opts.runbookRevision) configuration.push(opts.runbookRevision)
  const statement = (predicateType: string, predicate: Record<string, unknown>) => ({
    _type: STATEMENT_TYPE,
    subject,
    predicateType,
    predicate,
  })
  const extras = { tCutover: tCutoverSeen(bundleDir), imagesSeen: imagesSeen(bundleDir) }
  const files: [string, string][] = [
    [
      ATTESTATION_FILES.testResult,
      JSON.stringify(signEnvelope(statement(TEST_RESULT_TYPE, testResultPredicate(summary, configuration)), key), null, 2),
    ],
    [
      ATTESTATION_FILES.decision,
      JSON.stringify(signEnvelope(statement(DECISION_TYPE, decisionPredicate(summary, extras, configuration)), key), null, 2),
    ],
  ]
  if (key) files.push([ATTESTATION_FILES.publicKey, createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString()])
  return files.map(([name, text]) => {
    writeFileSync(join(bundleDir, name), text + (text.endsWith('\n') ? '' : '\n'))
    return join(bundleDir, name)
  })
}

/** The runbook revision: the repository commit (when git knows it) and a sha256 over specs/. */
export function describeRunbookRevision(root: string): ResourceDescriptor {
  const digest: Record<string, string> = {}
  try {
    digest.gitCommit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim()
  } catch {
    /* not a git checkout (the container image): the specs digest alone identifies the revision */
  }
  const h = createHash('sha256')
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else h.update(relative(root, p)).update('\0').update(readFileSync(p)).update('\0')
    }
  }
  if (existsSync(join(root, 'specs'))) walk(join(root, 'specs'))
  digest.sha256 = h.digest('hex')
  return {
    name: 'runbook gates (specs/)',
    digest,
    annotations: { seeds: 'F3-4 runtime closeout plan, E2-3 reload/cutover rehearsal, AC/Phase 7/Week 4 readiness' },
  }
}
