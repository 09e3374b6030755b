// Offline verification of an evidence bundle: every file against MANIFEST.sha256, the manifest and
// the files against the attested subjects, and the DSSE signatures against a public key. Every
// problem names the file. Used by `closeout verify` (bin/verify.ts).

import type { KeyObject } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import {
  ATTESTATION_FILE_NAMES,
  ATTESTATION_FILES,
  DECISION_TYPE,
  type DsseEnvelope,
  loadPublicKey,
  PAYLOAD_TYPE,
  pae,
  type ResourceDescriptor,
  STATEMENT_TYPE,
  sha256File,
  TEST_RESULT_TYPE,
  verifyBytes,
} from './attest.ts'
import { listFilesDeep } from './files.ts'

export interface VerifyResult {
  ok: boolean
  /** tampering: each names the file */
  problems: string[]
  /** not a failure, but the reader must know (unsigned, key taken from the bundle itself) */
  notes: string[]
  decision?: string
  signedBy?: string
}

function listFiles(dir: string): string[] {
  return listFilesDeep(dir).map((p) => relative(dir, p))
}

/** Manifest lines vs the files on disk: changed, missing, and unlisted files (attestation files aside). */
export function checkManifest(dir: string): { problems: string[]; entries: Map<string, string> } {
  const entries = new Map<string, string>()
  const file = join(dir, 'MANIFEST.sha256')
  if (!existsSync(file)) return { problems: [`MANIFEST.sha256: missing in ${dir}`], entries }
  const problems: string[] = []
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line)
    if (!m) {
      problems.push(`MANIFEST.sha256: malformed line "${line.slice(0, 80)}"`)
      continue
    }
    entries.set(m[2], m[1])
    const p = join(dir, m[2])
    if (!existsSync(p)) problems.push(`${m[2]}: missing (listed in MANIFEST.sha256)`)
    else if (sha256File(p) !== m[1]) problems.push(`${m[2]}: changed (sha256 differs from MANIFEST.sha256)`)
  }
  for (const f of listFiles(dir)) {
    if (f !== 'MANIFEST.sha256' && !entries.has(f) && !ATTESTATION_FILE_NAMES.includes(f))
      problems.push(`${f}: not in MANIFEST.sha256 (added after the run)`)
  }
  return { problems, entries }
}

interface Statement {
  _type: string
  subject: ResourceDescriptor[]
  predicateType: string
  predicate: Record<string, unknown>
}

function readEnvelope(dir: string, name: string, problems: string[]): { env: DsseEnvelope; statement: Statement } | undefined {
  const p = join(dir, name)
  if (!existsSync(p)) {
    problems.push(`${name}: missing (the bundle was not attested, or the file was removed)`)
    return undefined
  }
  try {
    const env = JSON.parse(readFileSync(p, 'utf8')) as DsseEnvelope
    if (env.payloadType !== PAYLOAD_TYPE || typeof env.payload !== 'string' || !Array.isArray(env.signatures)) throw new Error('shape')
    const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Statement
    if (statement._type !== STATEMENT_TYPE || !Array.isArray(statement.subject)) throw new Error('statement')
    return { env, statement }
  } catch {
    problems.push(`${name}: not a DSSE envelope with an in-toto Statement v1 (changed or corrupt)`)
    return undefined
  }
}

/** The attested subjects must be exactly the manifest entries plus the manifest itself. */
function checkSubjects(dir: string, name: string, st: Statement, entries: Map<string, string>, problems: string[]): void {
  const subjects = new Map(st.subject.map((s) => [s.name, s.digest?.sha256]))
  const manifestDigest = existsSync(join(dir, 'MANIFEST.sha256')) ? sha256File(join(dir, 'MANIFEST.sha256')) : ''
  if (subjects.get('MANIFEST.sha256') !== manifestDigest) problems.push(`MANIFEST.sha256: changed after it was attested (${name})`)
  for (const [file, digest] of entries) {
    if (!subjects.has(file)) problems.push(`${file}: in MANIFEST.sha256 but not attested (${name})`)
    else if (subjects.get(file) !== digest) problems.push(`${file}: manifest digest differs from the attested one (${name})`)
  }
  for (const file of subjects.keys())
    if (file !== 'MANIFEST.sha256' && !entries.has(file)) problems.push(`${file}: attested but no longer in MANIFEST.sha256 (${name})`)
}

function checkSignature(
  name: string,
  env: DsseEnvelope,
  key: KeyObject | undefined,
  keyName: string,
  problems: string[],
  notes: string[],
): void {
  if (!env.signatures.length) {
    if (key) problems.push(`${name}: not signed, but a signature was required (--key ${keyName})`)
    else notes.push(`${name}: not signed (no CLOSEOUT_SIGNING_KEY_FILE at the run): integrity only, no origin`)
    return
  }
  if (!key) return
  const data = pae(env.payloadType, Buffer.from(env.payload, 'base64'))
  if (!env.signatures.some((s) => verifyBytes(key, data, Buffer.from(s.sig, 'base64')))) {
    problems.push(`${name}: signature does not verify with ${keyName} (wrong key, or the envelope was changed)`)
  }
}

/** Verify one bundle directory; publicKeyFile = the key the reader trusts (else the bundle's own copy). */
export function verifyBundle(dir: string, publicKeyFile?: string): VerifyResult {
  const notes: string[] = []
  const { problems, entries } = checkManifest(dir)
  let key: KeyObject | undefined
  let keyName = publicKeyFile ?? ''
  if (publicKeyFile) key = loadPublicKey(publicKeyFile)
  else if (existsSync(join(dir, ATTESTATION_FILES.publicKey))) {
    key = loadPublicKey(join(dir, ATTESTATION_FILES.publicKey))
    keyName = `${ATTESTATION_FILES.publicKey} (the bundle's own copy)`
    notes.push(
      `signature checked with the key inside the bundle: proves the bundle is unchanged since signing, not who signed it; pass --key FILE with the key you trust`,
    )
  }
  let decision: string | undefined
  for (const [name, type] of [
    [ATTESTATION_FILES.testResult, TEST_RESULT_TYPE],
    [ATTESTATION_FILES.decision, DECISION_TYPE],
  ] as const) {
    const read = readEnvelope(dir, name, problems)
    if (!read) continue
    if (read.statement.predicateType !== type) problems.push(`${name}: predicateType ${read.statement.predicateType}, expected ${type}`)
    checkSubjects(dir, name, read.statement, entries, problems)
    checkSignature(name, read.env, key, keyName, problems, notes)
    if (type === DECISION_TYPE) decision = String(read.statement.predicate.decision ?? '')
  }
  return { ok: problems.length === 0, problems, notes, decision, signedBy: key ? keyName : undefined }
}
