// What the finalizer does after the bundles' MANIFEST.sha256 are written (so the attestation covers
// them): attest every bundle, write the CTRF report beside JUnit, put the decision into JUnit's
// <properties> and on Allure's first page (the runbook coverage and "since the last GO" are in the 99
// files and summary.md, written by helpers/bundle.ts before the manifests). Synchronous and local; the network exports (OTLP, webhook) are
// exportRun() in helpers/otel.ts / helpers/notify.ts, awaited by the CLI after the run.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { type AttestSummary, describeRunbookRevision, SigningKeyError, writeAttestation } from './attest.ts'
import type { CompareSummary } from './compare.ts'
import { injectJunitProperties, type ReportSummary, writeAllureDecision, writeCtrf } from './ctrf.ts'

export type ExtrasSummary = AttestSummary & ReportSummary & CompareSummary & { bundles: Record<string, string> }

export interface ExtrasOptions {
  /** the repository root (profile paths and specs/ are relative to it) */
  root: string
  /** reports/ */
  reports: string
  /** the target profile file as the run recorded it */
  profileFile?: string
  env?: NodeJS.ProcessEnv
}

/** Never throws: a problem here must not hide the decision; it is printed and the files are skipped. */
export function finalizeExtras(s: ExtrasSummary, o: ExtrasOptions): { written: string[]; problems: string[] } {
  const written: string[] = []
  const problems: string[] = []
  const attempt = (what: string, fn: () => string[]) => {
    try {
      written.push(...fn())
    } catch (err) {
      const msg = err instanceof SigningKeyError ? err.message : `${what}: ${err instanceof Error ? err.message : String(err)}`
      problems.push(msg)
      process.stderr.write(`closeout: ${msg}\n`)
    }
  }
  const profileFile = o.profileFile ? (isAbsolute(o.profileFile) ? o.profileFile : resolve(o.root, o.profileFile)) : undefined
  const revision = describeRunbookRevision(o.root)
  for (const dir of Object.values(s.bundles)) {
    attempt(`attestation of ${dir}`, () =>
      existsSync(join(dir, 'MANIFEST.sha256'))
        ? writeAttestation(dir, s, { profileFile, profileLabel: o.profileFile, runbookRevision: revision })
        : [],
    )
  }
  attempt('CTRF report', () => [writeCtrf(s, join(o.reports, 'ctrf.json'))])
  attempt('Allure decision', () => writeAllureDecision(s, join(o.reports, 'allure-results')))
  attempt('JUnit properties', () => {
    const junit = join(o.reports, 'junit.xml')
    if (!existsSync(junit)) return []
    const next = injectJunitProperties(readFileSync(junit, 'utf8'), s)
    if (next === null) return []
    writeFileSync(junit, next)
    return [junit]
  })
  return { written, problems }
}
