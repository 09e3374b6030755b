// One evidence combinator for every step that touches the target: step(name, fn) owns the timing
// (the only place a duration is measured), the pass/fail/error result, redaction and caps; the record
// becomes a block in the gate's bundle file (the seeds' 0N_*.log), a line in the bundle's
// evidence.jsonl and an Allure step. Side files go through attach() only (redacted).
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import * as allure from 'allure-js-commons'
import type { CallInfo, CallObserver } from './access.ts'
import { capText, type Redactor } from './redact.ts'

export type StepResult = 'pass' | 'fail' | 'info' | 'error' | 'skipped'

export interface EvidenceRecord {
  /** what the step did, e.g. "exec DB probe in consumer pod" */
  step: string
  kind: 'exec' | 'http' | 'query' | 'k8s' | 'file' | 'note' | 'registry' | 'arm'
  /** argv or request line — redacted before writing */
  command: string
  /** context/namespace/pod/container, URL, or query + time range */
  target: string
  startedAt: string
  finishedAt: string
  durationMs: number
  exitCode?: number | null
  httpStatus?: number
  result: StepResult
  stdout?: string
  stderr?: string
  body?: string
  /** extra named values (hashes, rows, counts) */
  details?: Record<string, unknown>
}

/** What a step's fn (or its outcome function) tells the record beyond timing and the observed calls. */
export type StepOutcome = Partial<Pick<EvidenceRecord, 'result' | 'exitCode' | 'httpStatus' | 'stdout' | 'stderr' | 'body' | 'details'>>

export interface StepOptions<T> {
  kind: EvidenceRecord['kind']
  /** fallback for a client that reports no CallInfo yet (set by the tool fixture, never by a spec) */
  command?: string
  target?: string
  /** the record's outcome from the value fn returned (default: result info) */
  outcome?: (value: T) => StepOutcome
  /** the record's outcome when fn threw (default: result error, stderr = the message) */
  onError?: (err: unknown) => StepOutcome
}

/** Handed to a step's fn: pass `observe` to the client so the record shows the call it really made. */
export interface StepScope {
  observe: CallObserver
  readonly calls: readonly CallInfo[]
}

export interface EvidenceOptions {
  gateId: string
  suite: string
  file: string
  owner: string
  redactor: Redactor
  excerptBytes?: number
  /** Allure steps and attachments (off outside a vitest test) */
  allure?: boolean
}

export function isoNow(): string {
  return new Date().toISOString()
}

function indent(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')
}

export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

function messageOf(err: unknown): string {
  return (err as Error)?.message ?? String(err)
}

export class GateEvidence {
  readonly file: string
  readonly jsonl: string
  readonly records: EvidenceRecord[] = []
  readonly attachments: string[] = []
  private readonly opts: EvidenceOptions
  private readonly excerpt: number

  constructor(opts: EvidenceOptions) {
    this.opts = opts
    this.file = opts.file
    this.jsonl = join(dirname(opts.file), 'evidence.jsonl')
    this.excerpt = opts.excerptBytes ?? 4096
    mkdirSync(dirname(opts.file), { recursive: true })
  }

  get redactor(): Redactor {
    return this.opts.redactor
  }

  get owner(): string {
    return this.opts.owner
  }

  get fileName(): string {
    return basename(this.file)
  }

  /** raw lines into the bundle file (the gate's header and footer) — redacted */
  write(text: string): void {
    appendFileSync(this.file, this.opts.redactor.redact(text.endsWith('\n') ? text : text + '\n'))
  }

  /** Run fn as one recorded step: timing, result, the observed calls' command and target, redaction. */
  async step<T>(name: string, fn: (scope: StepScope) => Promise<T>, opts: StepOptions<T>): Promise<T> {
    const calls: CallInfo[] = []
    const scope: StepScope = { observe: (c) => void calls.push(c), calls }
    const startedAt = isoNow()
    const t0 = performance.now()
    const finish = async (outcome: StepOutcome) => {
      const finishedAt = isoNow()
      const status = outcome.httpStatus ?? calls.findLast((c) => c.status !== undefined)?.status
      await this.record({
        step: name,
        kind: opts.kind,
        command: calls.length ? [...new Set(calls.map((c) => c.command))].join('\n') : (opts.command ?? '-'),
        target: calls.length ? [...new Set(calls.map((c) => c.target))].join('; ') : (opts.target ?? '-'),
        startedAt,
        finishedAt,
        durationMs: Math.round(performance.now() - t0),
        result: 'info',
        ...outcome,
        ...(status !== undefined ? { httpStatus: status } : {}),
      })
    }
    let value: T
    try {
      value = await fn(scope)
    } catch (err) {
      await finish({ result: 'error', exitCode: null, stderr: messageOf(err), ...opts.onError?.(err) })
      throw err
    }
    await finish(opts.outcome?.(value) ?? {})
    return value
  }

  /** A note without a target call (decisions, resolved values): no duration to measure. */
  async note(step: string, details: Record<string, unknown>, result: StepResult = 'info'): Promise<EvidenceRecord> {
    const now = isoNow()
    return this.record({ step, kind: 'note', command: '-', target: '-', startedAt: now, finishedAt: now, durationMs: 0, result, details })
  }

  /** A side file next to the gate's bundle file (redacted), attached to the Allure step too; its path. */
  async attach(name: string, content: string): Promise<string> {
    if (basename(name) !== name) throw new Error(`attachment name "${name}" must be a file name, not a path`)
    const text = this.opts.redactor.redact(content)
    const path = join(dirname(this.file), name)
    writeFileSync(path, text)
    this.attachments.push(name)
    if (this.opts.allure) await allure.attachment(name, text, name.endsWith('.json') ? 'application/json' : 'text/plain')
    return path
  }

  /** Write one record, every field redacted and capped. Only step() and note() call it (and the
   * legacy ApiClient of helpers/http.ts until it reports through a CallObserver). */
  async record(input: EvidenceRecord): Promise<EvidenceRecord> {
    const r = this.opts.redactor
    const cap = (s: string | undefined, keep: 'head' | 'tail' = 'head') =>
      s === undefined ? undefined : capText(r.redact(s), this.excerpt, keep)
    const rec: EvidenceRecord = {
      ...input,
      step: r.redact(input.step),
      command: r.redact(input.command),
      target: r.redact(input.target),
      stdout: cap(input.stdout, 'tail'),
      stderr: cap(input.stderr, 'tail'),
      body: cap(input.body),
      details: input.details ? (JSON.parse(r.redact(JSON.stringify(input.details))) as Record<string, unknown>) : undefined,
    }
    this.records.push(rec)
    appendFileSync(this.file, formatRecord(rec, this.opts.owner))
    appendFileSync(this.jsonl, JSON.stringify({ gate: this.opts.gateId, suite: this.opts.suite, owner: this.opts.owner, ...rec }) + '\n')
    if (this.opts.allure) await toAllure(rec)
    return rec
  }
}

function formatRecord(rec: EvidenceRecord, owner: string): string {
  const lines = [
    `--- step: ${rec.step}`,
    `command: ${rec.command.replace(/\n/g, '\n  ')}`,
    `target: ${rec.target}`,
    `started_at_utc: ${rec.startedAt}`,
    `finished_at_utc: ${rec.finishedAt}`,
    `duration_ms: ${rec.durationMs}`,
  ]
  if (rec.exitCode !== undefined) lines.push(`exit_code: ${rec.exitCode === null ? 'none' : rec.exitCode}`)
  if (rec.httpStatus !== undefined) lines.push(`http_status: ${rec.httpStatus}`)
  lines.push(`owner: ${owner}`, `result: ${rec.result}`)
  for (const [k, v] of Object.entries(rec.details ?? {})) {
    lines.push(
      typeof v === 'string' && !v.includes('\n')
        ? `${k}: ${v}`
        : `${k}: |\n${indent(typeof v === 'string' ? v : JSON.stringify(v, null, 2))}`,
    )
  }
  if (rec.stdout) lines.push(`stdout: |\n${indent(rec.stdout)}`)
  if (rec.stderr) lines.push(`stderr: |\n${indent(rec.stderr)}`)
  if (rec.body) lines.push(`body_excerpt: |\n${indent(rec.body)}`)
  return lines.join('\n') + '\n\n'
}

async function toAllure(rec: EvidenceRecord): Promise<void> {
  const failed = new Error(`step ${rec.result}`)
  try {
    await allure.step(rec.step, async (ctx) => {
      await ctx.parameter('target', rec.target)
      if (rec.exitCode !== undefined) await ctx.parameter('exit_code', String(rec.exitCode))
      if (rec.httpStatus !== undefined) await ctx.parameter('http_status', String(rec.httpStatus))
      await ctx.parameter('duration_ms', String(rec.durationMs))
      await allure.attachment('command', rec.command, 'text/plain')
      if (rec.stdout) await allure.attachment('stdout', rec.stdout, 'text/plain')
      if (rec.stderr) await allure.attachment('stderr', rec.stderr, 'text/plain')
      if (rec.body) await allure.attachment('body excerpt', rec.body, 'text/plain')
      if (rec.details && Object.keys(rec.details).length)
        await allure.attachment('details', JSON.stringify(rec.details, null, 2), 'application/json')
      if (rec.result === 'fail' || rec.result === 'error') throw failed
    })
  } catch (err) {
    if (err !== failed) throw err
  }
}
