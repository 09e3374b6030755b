// Decision (GO / NO_GO / BLOCKED), retry metadata, summary.json, the suite summary markdown,
// the rehearsal's decision/rollback records and MANIFEST.sha256. A pure function of the run state,
// so it can be (re)written at any moment: at the end of a run, on Ctrl-C, on a config error.
import { mkdirSync, writeFileSync, readdirSync, readFileSync, statSync, existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createHash } from 'node:crypto'
import { UNBLOCK_CRITERIA, isClassification, isBlockingClassification } from './classification.ts'
import { SUITES, type SuiteName } from './suites.ts'
import { finalizeExtras } from './finalize-extras.ts'
import { ATTESTATION_FILE_NAMES } from './attest.ts'
import { bundleDir, readGateResults, readRunInfo, reportsDir, writeJsonAtomic, writeRunInfo, type GateResult, type RunInfo } from './run-state.ts'

export type Decision = 'GO' | 'NO_GO' | 'BLOCKED'

export const EXIT_CODES: Record<Decision | 'USAGE', number> = { GO: 0, NO_GO: 1, BLOCKED: 2, USAGE: 3 }

export interface SummaryGate {
  id: string
  suite: SuiteName
  status: GateResult['status']
  classification: string | null
  reason: string | null
  durationMs: number
  evidence: string | null
}

export interface Summary {
  suite: string
  runId: string
  target: string
  startedAt: string
  finishedAt: string
  decision: Decision
  gates: SummaryGate[]
  classifications: string[]
  retry: { owner: string; retryAtUtc: string; unblockCriteria: string[] } | null
  evidenceDir: string | null
  reportDir: string
  /** extensions: one bundle per suite, the error that stopped the run before any gate, interruption */
  bundles: Record<string, string>
  configError: string | null
  interrupted: boolean
}

/** GO when every selected gate passed; NO_GO when any failed with *_FAILED / FRESHNESS_SLO_BREACHED; else BLOCKED. */
export function decide(gates: Pick<SummaryGate, 'status' | 'classification'>[], opts: { configError?: boolean; interrupted?: boolean } = {}): Decision {
  const failed = gates.some((g) => g.status === 'failed' && !isBlockingClassification(g.classification))
  if (failed) return 'NO_GO'
  if (opts.configError || gates.length === 0) return 'BLOCKED'
  if (gates.every((g) => g.status === 'passed') && !opts.interrupted) return 'GO'
  return 'BLOCKED'
}

/** Merge the run's selection with the results on disk; unselected results from earlier invocations stay. */
export function summarizeGates(info: RunInfo, results: GateResult[]): SummaryGate[] {
  const byKey = new Map(results.map((r) => [`${r.suite}.${r.id}`, r]))
  const out: SummaryGate[] = []
  const seen = new Set<string>()
  const push = (g: SummaryGate) => {
    const k = `${g.suite}.${g.id}`
    if (!seen.has(k)) (seen.add(k), out.push(g))
  }
  for (const s of info.selected) {
    const r = byKey.get(`${s.suite}.${s.id}`)
    if (r) push(toSummaryGate(r))
    else
      push({
        id: s.id,
        suite: s.suite,
        status: 'skipped',
        classification: null,
        reason: info.configError ? `not run: ${firstLine(info.configError)}` : info.interrupted ? 'not run: the run was interrupted' : 'not run',
        durationMs: 0,
        evidence: null,
      })
  }
  for (const r of results) push(toSummaryGate(r))
  return out
}

function toSummaryGate(r: GateResult): SummaryGate {
  return { id: r.id, suite: r.suite, status: r.status, classification: r.classification, reason: r.reason, durationMs: r.durationMs, evidence: r.evidence }
}

function firstLine(s: string): string {
  return s.split('\n')[0]
}

export interface FinalizeOptions {
  owner: string
  retryAfterHours: number
  root?: string
  now?: Date
  interrupted?: boolean
}

export function buildSummary(runId: string, opts: FinalizeOptions): Summary {
  const info = readRunInfo(runId, opts.root)
  if (!info) throw new Error(`run ${runId} not found under ${join(reportsDir(opts.root), 'runs')}`)
  const interrupted = Boolean(opts.interrupted || info.interrupted)
  const results = readGateResults(runId, opts.root)
  const gates = summarizeGates({ ...info, interrupted }, results)
  const decision = decide(gates, { configError: Boolean(info.configError), interrupted })
  const classifications = [...new Set(gates.flatMap((g) => (g.classification ? [g.classification] : [])))]
  const now = opts.now ?? new Date()
  const suites = [...new Set(gates.map((g) => g.suite))]
  const bundles = Object.fromEntries(suites.map((s) => [s, bundleDir(runId, s, opts.root)]))
  const unblock = classifications.filter(isClassification).map((c) => UNBLOCK_CRITERIA[c])
  if (info.configError) unblock.unshift(`CONFIGURATION: ${firstLine(info.configError)} — fix it and rerun.`)
  if (interrupted) unblock.push('INTERRUPTED: the run was stopped before every gate ran; rerun it (same --run-id to append).')
  const blockedByNeeds = gates.filter((g) => g.status === 'blocked' && !g.classification)
  if (blockedByNeeds.length && !unblock.length) unblock.push('BLOCKED: a needed gate did not pass; see the reasons per gate.')
  return {
    suite: suites.length ? suites.join('+') : info.selected[0]?.suite ?? 'none',
    runId,
    target: info.target.name ? `${info.target.name} (${info.target.file})` : info.target.file,
    startedAt: info.startedAt,
    finishedAt: now.toISOString(),
    decision,
    gates,
    classifications,
    retry:
      decision === 'GO'
        ? null
        : { owner: opts.owner, retryAtUtc: new Date(now.getTime() + opts.retryAfterHours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'), unblockCriteria: unblock },
    evidenceDir: suites.length ? bundles[suites[0]] : null,
    reportDir: join(reportsDir(opts.root), 'allure-report'),
    bundles,
    configError: info.configError ?? null,
    interrupted,
  }
}

function gateTable(gates: SummaryGate[]): string {
  const rows = gates.map(
    (g) => `| ${g.id} | ${g.status.toUpperCase()} | ${g.classification ?? '-'} | ${(g.reason ?? '-').replace(/\|/g, '\\|').replace(/\n/g, ' ')} | ${g.durationMs} | ${g.evidence ?? '-'} |`,
  )
  return ['| gate | result | classification | reason | duration_ms | evidence |', '|---|---|---|---|---|---|', ...rows].join('\n')
}

/** Who ran what, when, with which outcome: the five fields every E2-3 evidence file carries. */
export interface RecordHead {
  command: string
  owner: string
}

function headLines(h: RecordHead, s: Summary, d: Decision, result: string = d): string[] {
  return [`command: ${h.command}`, `exit_code: ${s.configError ? EXIT_CODES.USAGE : EXIT_CODES[d]}`, `utc_timestamp: ${s.finishedAt}`, `owner: ${h.owner}`, `result: ${result}`]
}

export function summaryMarkdown(s: Summary, suite: SuiteName, head: RecordHead): string {
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
    `- failure_classification: ${gates.flatMap((g) => (g.classification ? [g.classification] : [])).join(', ') || 'none'}`,
  ]
  if (s.configError) lines.push(`- configuration_error: ${s.configError.replace(/\n/g, ' ')}`)
  if (s.interrupted) lines.push('- interrupted: yes (gates that did not run are listed as SKIPPED)')
  lines.push('', '## Gates', '', gateTable(gates), '')
  if (s.retry) {
    lines.push('## Retry', '', `- owner: ${s.retry.owner}`, `- retry_at_utc: ${s.retry.retryAtUtc}`, '- unblock_criteria:', ...s.retry.unblockCriteria.map((c) => `  - ${c}`), '')
  }
  lines.push('Evidence files are listed in MANIFEST.sha256 (verify: `cd <bundle> && sha256sum -c MANIFEST.sha256`).', '')
  return lines.join('\n')
}

/** The cutover decision of E2-3 §6: GO only when the whole rehearsal passed in this run. */
export type CutoverDecision = Decision | 'INCOMPLETE'

export function cutoverDecision(s: Summary, required: readonly string[]): { decision: CutoverDecision; missing: string[] } {
  const gates = s.gates.filter((g) => g.suite === 'rehearsal')
  const d = decide(gates, { configError: Boolean(s.configError), interrupted: s.interrupted })
  const passed = new Set(gates.filter((g) => g.status === 'passed').map((g) => g.id))
  const missing = required.filter((id) => !gates.some((g) => g.id === id))
  // a GO over part of the rehearsal (say, a one-gate run) is not a GO for the cutover
  if (d === 'GO' && required.some((id) => !passed.has(id))) return { decision: 'INCOMPLETE', missing }
  return { decision: d, missing }
}

/** The rehearsal's 08/09 records (E2-3 §6: GO → cutover may proceed; NO_GO → do not promote, new T_cutover). */
export function rehearsalDecisionRecords(s: Summary, head: RecordHead, required: readonly string[]): { decision: string; rollback: string } {
  const gates = s.gates.filter((g) => g.suite === 'rehearsal')
  const suiteDecision = decide(gates, { configError: Boolean(s.configError), interrupted: s.interrupted })
  const { decision: d, missing } = cutoverDecision(s, required)
  const failed = gates.filter((g) => g.status !== 'passed')
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
      ? [...headLines(head, s, suiteDecision, 'NO_ROLLBACK'), 'action: no rollback; cutover promotion may proceed at T_cutover.', ''].join('\n')
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

function listFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      // attest (issue 11): the ATTESTATION.* files cover the manifest, so they cannot be in it
      else if (name !== 'MANIFEST.sha256' && !ATTESTATION_FILE_NAMES.includes(name)) out.push(p)
    }
  }
  walk(dir)
  return out
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

/** Write summary.json (reports/latest + the run dir), each suite's summary markdown, 08/09, manifests. */
export function finalizeRun(runId: string, opts: FinalizeOptions): Summary {
  const info = readRunInfo(runId, opts.root)
  if (info && opts.interrupted && !info.interrupted) writeRunInfo({ ...info, interrupted: true }, opts.root)
  const s = buildSummary(runId, opts)
  const head: RecordHead = { command: info?.command ?? `pnpm test (run ${runId})`, owner: opts.owner }
  for (const [suite, dir] of Object.entries(s.bundles) as [SuiteName, string][]) {
    mkdirSync(dir, { recursive: true })
    if (suite === 'rehearsal') {
      const rec = rehearsalDecisionRecords(s, head, info?.suiteGates?.rehearsal ?? [...new Set(s.gates.filter((g) => g.suite === 'rehearsal').map((g) => g.id))])
      writeFileSync(join(dir, '08_cutover_decision.log'), rec.decision)
      writeFileSync(join(dir, '09_rollback_or_no_rollback.log'), rec.rollback)
    }
    writeFileSync(join(dir, SUITES[suite].summaryFile), summaryMarkdown(s, suite, head))
    writeJsonAtomic(join(dir, 'summary.json'), s)
    writeManifest(dir)
  }
  const latest = join(reportsDir(opts.root), 'latest')
  mkdirSync(latest, { recursive: true })
  writeJsonAtomic(join(latest, 'summary.json'), s)
  writeJsonAtomic(join(reportsDir(opts.root), 'runs', runId, 'summary.json'), s)
  const firstSuite = Object.keys(s.bundles)[0] as SuiteName | undefined
  writeFileSync(join(latest, 'summary.md'), firstSuite ? Object.keys(s.bundles).map((su) => summaryMarkdown(s, su as SuiteName, head)).join('\n') : `# closeout — ${s.decision}\n\n${s.configError ?? ''}\n`)
  // >>> attest (issue 11): after every MANIFEST.sha256, so the attestation covers them; core's finalizer takes this call over
  finalizeExtras(s, { root: opts.root ?? process.cwd(), reports: reportsDir(opts.root), profileFile: info?.target.file })
  // <<< attest
  return s
}
