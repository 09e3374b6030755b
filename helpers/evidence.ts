// One evidence path for every step that touches the target: a block in the gate's bundle file
// (the seeds' 0N_*.log), a line in the bundle's evidence.jsonl, and an Allure step with attachments.
import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname, join, basename } from 'node:path'
import * as allure from 'allure-js-commons'
import { Redactor, capText } from './redact.ts'

export type StepResult = 'pass' | 'fail' | 'info'

export interface EvidenceRecord {
  /** what the step did, e.g. "exec DB probe in consumer pod" */
  step: string
  kind: 'exec' | 'http' | 'query' | 'k8s' | 'file' | 'note'
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

export class GateEvidence {
  readonly file: string
  readonly jsonl: string
  readonly records: EvidenceRecord[] = []
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

  /** raw lines into the bundle file (headers, footers) — redacted */
  write(text: string): void {
    appendFileSync(this.file, this.opts.redactor.redact(text.endsWith('\n') ? text : text + '\n'))
  }

  /** Record one step. Every field is redacted and capped before it is written anywhere. */
  async record(input: EvidenceRecord): Promise<EvidenceRecord> {
    const r = this.opts.redactor
    const cap = (s: string | undefined, keep: 'head' | 'tail' = 'head') => (s === undefined ? undefined : capText(r.redact(s), this.excerpt, keep))
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
    const lines = [
      `--- step: ${rec.step}`,
      `command: ${rec.command}`,
      `target: ${rec.target}`,
      `started_at_utc: ${rec.startedAt}`,
      `finished_at_utc: ${rec.finishedAt}`,
      `duration_ms: ${rec.durationMs}`,
    ]
    if (rec.exitCode !== undefined) lines.push(`exit_code: ${rec.exitCode === null ? 'none' : rec.exitCode}`)
    if (rec.httpStatus !== undefined) lines.push(`http_status: ${rec.httpStatus}`)
    lines.push(`owner: ${this.opts.owner}`, `result: ${rec.result}`)
    for (const [k, v] of Object.entries(rec.details ?? {})) {
      lines.push(typeof v === 'string' && !v.includes('\n') ? `${k}: ${v}` : `${k}: |\n${indent(typeof v === 'string' ? v : JSON.stringify(v, null, 2))}`)
    }
    if (rec.stdout) lines.push(`stdout: |\n${indent(rec.stdout)}`)
    if (rec.stderr) lines.push(`stderr: |\n${indent(rec.stderr)}`)
    if (rec.body) lines.push(`body_excerpt: |\n${indent(rec.body)}`)
    appendFileSync(this.file, lines.join('\n') + '\n\n')
    appendFileSync(this.jsonl, JSON.stringify({ gate: this.opts.gateId, suite: this.opts.suite, owner: this.opts.owner, ...rec }) + '\n')
    if (this.opts.allure) await this.toAllure(rec)
    return rec
  }

  /** A note without a target call (decisions, resolved values). */
  async note(step: string, details: Record<string, unknown>, result: StepResult = 'info'): Promise<EvidenceRecord> {
    const now = isoNow()
    return this.record({ step, kind: 'note', command: '-', target: '-', startedAt: now, finishedAt: now, durationMs: 0, result, details })
  }

  private async toAllure(rec: EvidenceRecord): Promise<void> {
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
        if (rec.details && Object.keys(rec.details).length) await allure.attachment('details', JSON.stringify(rec.details, null, 2), 'application/json')
        if (rec.result === 'fail') throw failed
      })
    } catch (err) {
      if (err !== failed) throw err
    }
  }

  get fileName(): string {
    return basename(this.file)
  }
}
