// Writes what helpers/decision.ts computes: summary.json (reports/latest + the run dir), each suite's
// summary markdown (99_*.md), the rehearsal's 08/09 records, the footer of a gate cut off by an
// interrupt, and MANIFEST.sha256. The one finalizer of a run (bin/test.ts calls it, once).

import { createHash } from 'node:crypto'
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { ATTESTATION_FILE_NAMES } from './attest.ts'
import { sinceLastGo } from './compare.ts'
import { buildSummary, cutoverDecision, type Decision, decide, EXIT_CODES, type Summary, type SummaryGate } from './decision.ts'
import { listFilesDeep } from './files.ts'
import { finalizeExtras } from './finalize-extras.ts'
import { countsForDecision, type DecisionPolicy, matchesGateRef, policyMarkdown, type Waiver } from './policy.ts'
import { bundleDir, readGateResults, readRunInfo, reportsDir, runDir, writeJsonAtomic, writeRunInfo } from './run-state.ts'
import { coverageTable } from './runbook-steps.ts'
import { SUITES, type SuiteName } from './suites.ts'

function gateTable(gates: SummaryGate[]): string {
  const rows = gates.map(
    (g) =>
      `| ${g.id} | ${g.status.toUpperCase()} | ${g.classification ?? '-'} | ${(g.reason ?? '-').replace(/\|/g, '\\|').replace(/\n/g, ' ')} | ${g.durationMs} | ${g.evidence ?? '-'} |`,
  )
  return ['| gate | result | classification | reason | duration_ms | evidence |', '|---|---|---|---|---|---|', ...rows].join('\n')
}

/** Who ran what, when, with which outcome: the five fields every E2-3 evidence file carries. */
export interface RecordHead {
  command: string
  owner: string
}

function headLines(h: RecordHead, s: Summary, d: Decision, result: string = d): string[] {
  return [
    `command: ${h.command}`,
    `exit_code: ${s.configError ? EXIT_CODES.USAGE : EXIT_CODES[d]}`,
    `utc_timestamp: ${s.finishedAt}`,
    `owner: ${h.owner}`,
    `result: ${result}`,
  ]
}

/** The policy section of one suite's summary: its waived and advisory gates, the waivers that could apply to it. */
export function suitePolicyMarkdown(s: Summary, suite: SuiteName): string {
  const gates = s.gates.filter((g) => g.suite === suite)
  const mayApply = (w: Waiver) => !w.gate.includes('/') || w.gate.startsWith(`${suite}/`)
  const applied = (w: Waiver) =>
    gates.some((g) => g.status === 'waived' && matchesGateRef(w.gate, g) && g.classification === w.classification)
  return policyMarkdown({
    gates,
    waiversInForce: (s.waiversInForce ?? []).filter(applied),
    waiversExpired: (s.waiversExpired ?? []).filter(mayApply),
    waiversUnused: (s.waiversUnused ?? []).filter(mayApply),
    advisory: (s.advisory ?? []).filter((id) => id.startsWith(`${suite}/`)),
  })
}

/** One suite's summary markdown (the 99 file): head, gates, decision policy, retry, runbook coverage, since the last GO. */
export function summaryMarkdown(s: Summary, suite: SuiteName, head: RecordHead, sinceLastGoSection = ''): string {
  const gates = s.gates.filter((g) => g.suite === suite)
  const d = decide(gates, { configError: Boolean(s.configError), interrupted: s.interrupted })
  const lines = [
    `# ${SUITES[suite].title} — summary`,
    '',
    ...headLines(head, s, d).map((l) => `- ${l}`),
    `- decision: **${d}**`,
    `- run_id: ${s.runId}`,
    `- target: ${s.target}`,
    `- started_at_utc: ${s.startedAt}`,
    `- finished_at_utc: ${s.finishedAt}`,
    `- failure_classification: ${gates.flatMap((g) => (g.classification && countsForDecision(g) && g.status !== 'passed' ? [g.classification] : [])).join(', ') || 'none'}`,
  ]
  const waived = gates.filter((g) => g.status === 'waived')
  if (waived.length)
    lines.push(
      `- waived: ${waived.map((g) => `${g.id} (${g.classification}, ${g.policy?.waiver?.ticket ?? 'waiver'})`).join(', ')} — shown, not counted`,
    )
  if (s.configError) lines.push(`- configuration_error: ${s.configError.replace(/\n/g, ' ')}`)
  if (s.interrupted) lines.push('- interrupted: yes (the gate that was running is INTERRUPTED, gates that did not run are SKIPPED)')
  if (gates.some((g) => g.status === 'advisory'))
    lines.push('- advisory: gates listed under policy.advisory or run with --keep-going after a stop rule; they never change the decision')
  lines.push('', '## Gates', '', gateTable(gates), '')
  const policy = suitePolicyMarkdown(s, suite)
  if (policy) lines.push(policy)
  if (s.retry) {
    lines.push(
      '## Retry',
      '',
      `- owner: ${s.retry.owner}`,
      `- retry_at_utc: ${s.retry.retryAtUtc}`,
      '- unblock_criteria:',
      ...s.retry.unblockCriteria.map((c) => `  - ${c}`),
      '',
    )
  }
  const coverage = coverageTable(gates)
  if (coverage) lines.push(coverage)
  if (sinceLastGoSection) lines.push(sinceLastGoSection)
  lines.push('Evidence files are listed in MANIFEST.sha256 (verify: `cd <bundle> && sha256sum -c MANIFEST.sha256`).', '')
  return lines.join('\n')
}

/** The rehearsal's 08/09 records (E2-3 §6: GO → cutover may proceed; NO_GO → do not promote, new T_cutover). */
export function rehearsalDecisionRecords(
  s: Summary,
  head: RecordHead,
  required: readonly string[],
): { decision: string; rollback: string } {
  const gates = s.gates.filter((g) => g.suite === 'rehearsal')
  const suiteDecision = decide(gates, { configError: Boolean(s.configError), interrupted: s.interrupted })
  const { decision: d, missing } = cutoverDecision(s, required)
  const failed = gates.filter((g) => g.status !== 'passed' && countsForDecision(g))
  const decision = [
    ...headLines(head, s, suiteDecision, d),
    `decision: ${d}`,
    'gates:',
    ...gates.map((g) => `  - ${g.id}: ${g.status}${g.classification ? ` (${g.classification})` : ''}${g.reason ? ` — ${g.reason}` : ''}`),
    ...(missing.length ? [`not_run: ${missing.join(', ')}`] : []),
    `rule: GO requires precheck + migration + backfill + sync + 200/404 + idempotency all passed in this run (${required.join(', ')}); NO_GO when any gate failed; INCOMPLETE when a gate did not run.`,
    '',
  ].join('\n')
  const rollback =
    d === 'GO'
      ? [...headLines(head, s, suiteDecision, 'NO_ROLLBACK'), 'action: no rollback; cutover promotion may proceed at T_cutover.', ''].join(
          '\n',
        )
      : [
          ...headLines(head, s, suiteDecision, d === 'NO_GO' ? 'ROLLBACK' : 'HOLD'),
          'action: do not perform cutover promotion.',
          `failure_classification: ${failed.map((g) => g.classification ?? `BLOCKED(${g.id})`).join(', ') || 'none'}`,
          ...(missing.length ? [`not_run: ${missing.join(', ')} (run the full rehearsal: pnpm test --tag rehearsal)`] : []),
          `retry_owner: ${s.retry?.owner ?? head.owner}`,
          `retry_at_utc: ${s.retry?.retryAtUtc ?? '-'}`,
          'unblock_criteria:',
          ...(s.retry?.unblockCriteria ?? []).map((c) => `  - ${c}`),
          'next_attempt: set a new T_cutover and rerun the full rehearsal.',
          '',
        ].join('\n')
  return { decision, rollback }
}

/** the manifest's files: everything but the manifest itself and the ATTESTATION.* files that cover it */
function listFiles(dir: string): string[] {
  return listFilesDeep(dir).filter((p) => {
    const name = basename(p)
    return name !== 'MANIFEST.sha256' && !ATTESTATION_FILE_NAMES.includes(name)
  })
}

/** sha256sum-compatible manifest over every file of the bundle. */
export function writeManifest(dir: string): string {
  const lines = listFiles(dir).map((f) => `${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${relative(dir, f)}`)
  const file = join(dir, 'MANIFEST.sha256')
  writeFileSync(file, lines.join('\n') + (lines.length ? '\n' : ''))
  return file
}

export function verifyManifest(dir: string): { ok: boolean; problems: string[] } {
  const file = join(dir, 'MANIFEST.sha256')
  if (!existsSync(file)) return { ok: false, problems: ['MANIFEST.sha256 missing'] }
  const problems: string[] = []
  const listed = new Set<string>()
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line)
    if (!m) {
      problems.push(`bad line: ${line}`)
      continue
    }
    listed.add(m[2])
    const p = join(dir, m[2])
    if (!existsSync(p)) problems.push(`missing: ${m[2]}`)
    else if (createHash('sha256').update(readFileSync(p)).digest('hex') !== m[1]) problems.push(`changed: ${m[2]}`)
  }
  for (const f of listFiles(dir)) if (!listed.has(relative(dir, f))) problems.push(`not in manifest: ${relative(dir, f)}`)
  return { ok: problems.length === 0, problems }
}

export interface FinalizeOptions {
  owner: string
  retryAfterHours: number
  root?: string
  now?: Date
  interrupted?: boolean
  /** the profile's decision policy; applied before the decision (none: every gate counts) */
  policy?: DecisionPolicy
}

/** "Since the last GO" for the summaries; a problem reading old runs must not stop the finalizer. */
function sinceLastGoOrNote(root: string | undefined, s: Summary): string {
  try {
    return sinceLastGo(reportsDir(root), s)
  } catch (err) {
    return `## Since the last GO\n\nnot compared: ${err instanceof Error ? err.message : String(err)}\n`
  }
}

/** The footer a gate cut off by the interrupt never wrote itself. */
function closeInterruptedGates(s: Summary, now: Date): void {
  for (const g of s.gates.filter((x) => x.status === 'interrupted' && x.evidence && existsSync(x.evidence))) {
    const text = readFileSync(g.evidence as string, 'utf8')
    if (text.slice(text.lastIndexOf('=== gate:')).includes('=== result:')) continue
    appendFileSync(
      g.evidence as string,
      [
        '=== result: INTERRUPTED',
        'classification: none',
        `reason: ${g.reason ?? 'the run was interrupted while this gate was running'}`,
        `finished_at_utc: ${now.toISOString()}`,
        '',
      ].join('\n'),
    )
  }
}

/** Write summary.json (reports/latest + the run dir), each suite's summary markdown, 08/09, manifests. */
export function finalizeRun(runId: string, opts: FinalizeOptions): Summary {
  const info = readRunInfo(runId, opts.root)
  if (!info) throw new Error(`run ${runId} not found under ${join(reportsDir(opts.root), 'runs')}`)
  // an interrupted run stays interrupted: a later writer can never turn it GO
  const previous = join(runDir(runId, opts.root), 'summary.json')
  const wasInterrupted = existsSync(previous) && (JSON.parse(readFileSync(previous, 'utf8')) as Summary).interrupted
  const interrupted = Boolean(opts.interrupted || info.interrupted || wasInterrupted)
  if (interrupted && !info.interrupted) writeRunInfo({ ...info, interrupted: true }, opts.root)
  const now = opts.now ?? new Date()
  const s = buildSummary({
    info: { ...info, interrupted },
    results: readGateResults(runId, opts.root),
    bundleDirOf: (suite) => bundleDir(runId, suite, opts.root),
    reportDir: join(reportsDir(opts.root), 'allure-report'),
    owner: opts.owner,
    retryAfterHours: opts.retryAfterHours,
    now,
    policy: opts.policy,
  })
  closeInterruptedGates(s, now)
  const head: RecordHead = { command: info.command ?? `pnpm test (run ${runId})`, owner: opts.owner }
  const since = s.configError ? '' : sinceLastGoOrNote(opts.root, s)
  for (const [suite, dir] of Object.entries(s.bundles) as [SuiteName, string][]) {
    mkdirSync(dir, { recursive: true })
    if (suite === 'rehearsal') {
      const rec = rehearsalDecisionRecords(
        s,
        head,
        info.suiteGates?.rehearsal ?? [...new Set(s.gates.filter((g) => g.suite === 'rehearsal').map((g) => g.id))],
      )
      writeFileSync(join(dir, '08_cutover_decision.log'), rec.decision)
      writeFileSync(join(dir, '09_rollback_or_no_rollback.log'), rec.rollback)
    }
    writeFileSync(join(dir, SUITES[suite].summaryFile), summaryMarkdown(s, suite, head, since))
    writeJsonAtomic(join(dir, 'summary.json'), s)
    writeManifest(dir)
  }
  const latest = join(reportsDir(opts.root), 'latest')
  mkdirSync(latest, { recursive: true })
  writeJsonAtomic(previous, s)
  writeJsonAtomic(join(latest, 'summary.json'), s)
  const suites = Object.keys(s.bundles) as SuiteName[]
  writeFileSync(
    join(latest, 'summary.md'),
    suites.length
      ? suites.map((su) => summaryMarkdown(s, su, head, since)).join('\n')
      : `# closeout — ${s.decision}\n\n${s.configError ?? ''}\n`,
  )
  // after every MANIFEST.sha256, so the attestation covers them: attestation, CTRF, JUnit/Allure decision, coverage
  finalizeExtras(s, { root: opts.root ?? process.cwd(), reports: reportsDir(opts.root), profileFile: info.target.file })
  return s
}
