// The decision inside the reports people open: a CTRF JSON report (https://ctrf.io, spec 0.1.0)
// beside JUnit, the JUnit <properties> for core's reporter, and the Allure first page
// (environment.properties + executor.json in allure-results: the Environment and Executors widgets).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { RunSummaryHead } from './otel.ts'
import { runbookStepsOf } from './runbook-steps.ts'

/** The fields of core's Summary these reports read. */
export interface ReportSummary extends RunSummaryHead {
  gates: {
    id: string
    suite: string
    status: string
    classification: string | null
    reason: string | null
    durationMs: number
    evidence: string | null
    policy?: { originalStatus: string }
  }[]
  classifications: string[]
  retry: { owner: string; retryAtUtc: string; unblockCriteria: string[] } | null
  evidenceDir: string | null
  waiversInForce?: ReportWaiver[]
  waiversExpired?: ReportWaiver[]
  /** suite/id of the advisory gates (policy.advisory, --keep-going) */
  advisory?: string[]
}

type ReportWaiver = { gate: string; classification: string; ticket: string; owner: string; expiresAt: string }

type CtrfStatus = 'passed' | 'failed' | 'skipped' | 'pending' | 'other'

/** blocked, interrupted, waived and advisory are "other" with the real status in rawStatus: a CTRF
 * consumer counting `failed` must not take "could not check" for checked-and-wrong, nor for a pass. */
function ctrfStatus(status: string): CtrfStatus {
  if (status === 'passed' || status === 'failed' || status === 'skipped') return status
  return 'other'
}

export function buildCtrf(s: ReportSummary, toolVersion = '0.1.0'): Record<string, unknown> {
  const tests = s.gates.map((g) => {
    const steps = runbookStepsOf(g.suite, g.id)
    const labels: Record<string, string | string[]> = { gate: g.id, suite: g.suite }
    if (g.classification) labels.classification = g.classification
    if (steps.length) labels.runbookStep = steps
    return {
      name: `${g.suite}/${g.id}`,
      status: ctrfStatus(g.status),
      rawStatus: g.policy ? `${g.status} (was ${g.policy.originalStatus})` : g.status,
      duration: Math.max(0, Math.round(g.durationMs)),
      suite: [g.suite],
      ...(g.reason ? { message: g.classification ? `[${g.classification}] ${g.reason}` : g.reason } : {}),
      tags: [g.suite, g.id],
      labels,
      ...(g.evidence ? { attachments: [{ name: 'evidence', contentType: 'text/plain', path: g.evidence }] } : {}),
    }
  })
  const count = (st: CtrfStatus) => tests.filter((t) => t.status === st).length
  const start = Date.parse(s.startedAt)
  const stop = Date.parse(s.finishedAt)
  return {
    reportFormat: 'CTRF',
    specVersion: '0.1.0',
    timestamp: s.finishedAt,
    generatedBy: 'closeout',
    results: {
      tool: { name: 'closeout', version: toolVersion },
      summary: {
        tests: tests.length,
        passed: count('passed'),
        failed: count('failed'),
        skipped: count('skipped'),
        pending: 0,
        other: count('other'),
        suites: new Set(s.gates.map((g) => g.suite)).size,
        start,
        stop,
        duration: Math.max(0, stop - start),
      },
      tests,
      environment: {
        reportName: `closeout ${s.suite} ${s.runId}`,
        testEnvironment: s.target,
        healthy: s.decision === 'GO',
        extra: decisionFields(s),
      },
    },
    extra: decisionFields(s),
  }
}

function decisionFields(s: ReportSummary): Record<string, unknown> {
  return {
    decision: s.decision,
    runId: s.runId,
    classifications: s.classifications,
    retry: s.retry,
    waiversInForce: s.waiversInForce ?? [],
    waiversExpired: s.waiversExpired ?? [],
    advisory: s.advisory ?? [],
    evidenceDir: s.evidenceDir,
  }
}

export function writeCtrf(s: ReportSummary, file: string): string {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(buildCtrf(s), null, 2) + '\n')
  return file
}

/** name/value pairs for JUnit's <testsuites>/<testsuite> <properties> (core's reporter writes them). */
export function junitProperties(s: ReportSummary): { name: string; value: string }[] {
  const props = [
    { name: 'closeout.decision', value: s.decision },
    { name: 'closeout.runId', value: s.runId },
    { name: 'closeout.target', value: s.target },
    { name: 'closeout.classifications', value: s.classifications.join(',') || 'none' },
  ]
  if (s.retry) {
    props.push({ name: 'closeout.retry.owner', value: s.retry.owner }, { name: 'closeout.retry.retryAtUtc', value: s.retry.retryAtUtc })
    s.retry.unblockCriteria.forEach((c, i) => props.push({ name: `closeout.retry.unblock.${i + 1}`, value: c }))
  }
  for (const w of s.waiversInForce ?? [])
    props.push({ name: `closeout.waiver.${w.gate}`, value: `${w.classification} ${w.ticket} (${w.owner}) until ${w.expiresAt}` })
  for (const w of s.waiversExpired ?? [])
    props.push({ name: `closeout.waiverExpired.${w.gate}`, value: `${w.classification} ${w.ticket} expired ${w.expiresAt} (ignored)` })
  // vitest's testcase still shows the failure of a waived / advisory gate: say here that it does not count
  for (const g of s.gates.filter((x) => x.status === 'waived' || x.status === 'advisory'))
    props.push({
      name: `closeout.gate.${g.suite}/${g.id}`,
      value: `${g.status}${g.policy ? ` (was ${g.policy.originalStatus})` : ''}: not counted in the decision`,
    })
  return props
}

export function escapeXml(t: string): string {
  return t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

/** The <properties> element itself, for a reporter that writes XML text. */
export function junitPropertiesXml(s: ReportSummary, indent = '  '): string {
  const lines = junitProperties(s).map((p) => `${indent}  <property name="${escapeXml(p.name)}" value="${escapeXml(p.value)}"/>`)
  return [`${indent}<properties>`, ...lines, `${indent}</properties>`].join('\n')
}

/** Put the properties into an existing JUnit file (vitest's junit reporter writes none): after the
 * <testsuites …> opening tag. Returns false when the file has no <testsuites> element. */
export function injectJunitProperties(xml: string, s: ReportSummary): string | null {
  const m = /<testsuites\b[^>]*>/.exec(xml)
  if (!m) return null
  const cleaned = xml.replace(/\n?\s*<properties>\s*(?:<property name="closeout\.[^>]*\/>\s*)+<\/properties>/, '')
  const at = cleaned.indexOf(m[0]) + m[0].length
  return `${cleaned.slice(0, at)}\n${junitPropertiesXml(s)}${cleaned.slice(at)}`
}

/** Allure's first page: the Environment widget (environment.properties) and the Executors widget
 * (executor.json: name, buildName, reportName), both read from allure-results by Allure 2 and 3. */
export function writeAllureDecision(s: ReportSummary, resultsDir: string): string[] {
  mkdirSync(resultsDir, { recursive: true })
  const env: [string, string][] = [
    ['Decision', s.decision],
    ['Run', s.runId],
    ['Target', s.target],
    ['Classifications', s.classifications.join(', ') || 'none'],
    ['Retry owner', s.retry?.owner ?? '-'],
    ['Retry at (UTC)', s.retry?.retryAtUtc ?? '-'],
  ]
  s.retry?.unblockCriteria.forEach((c, i) => env.push([`Unblock ${i + 1}`, c]))
  for (const w of s.waiversInForce ?? []) env.push([`Waiver ${w.gate}`, `${w.classification} ${w.ticket} until ${w.expiresAt}`])
  for (const w of s.waiversExpired ?? []) env.push([`Waiver expired ${w.gate}`, `${w.classification} ${w.ticket} expired ${w.expiresAt}`])
  if (s.advisory?.length) env.push(['Advisory (not counted)', s.advisory.join(', ')])
  // java.util.Properties: escape '\', '=' ':' in keys, spaces in keys, and newlines
  const esc = (t: string, key: boolean) =>
    t
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(key ? /([=: ])/g : /$^/, '\\$1')
  const envFile = join(resultsDir, 'environment.properties')
  // allure-vitest wrote its environmentInfo (target, run_id, node…) at the start: keep those lines
  const ours = new Set(env.map(([k]) => esc(k, true)))
  const kept = existsSync(envFile)
    ? readFileSync(envFile, 'utf8')
        .split('\n')
        .filter((l) => l && !ours.has(l.split(/(?<!\\)=/)[0]) && !/^(Unblock\\ \d+|Waiver\\ |Advisory\\ )/.test(l))
    : []
  writeFileSync(envFile, [...env.map(([k, v]) => `${esc(k, true)}=${esc(v, false)}`), ...kept].join('\n') + '\n')
  const execFile = join(resultsDir, 'executor.json')
  const executor = {
    name: 'closeout',
    type: 'closeout',
    buildName: `${s.suite} ${s.runId}: ${s.decision}`,
    reportName: `closeout — ${s.decision}${s.classifications.length ? ` (${s.classifications.join(', ')})` : ''}`,
  }
  writeFileSync(execFile, JSON.stringify(executor, null, 2) + '\n')
  return [envFile, execFile]
}
