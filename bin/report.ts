// ./closeout report [--single-file] [--open [--port N]]: render reports/allure-report from
// reports/allure-results with the Allure 3 CLI (npm `allure`, no Java) and allurerc.mjs (categories =
// classifications, history trend). --single-file: one self-contained index.html for mail and tickets.
// --open: then serve the report on localhost (`allure open`) until Ctrl-C.
// Exit codes: 0 rendered, 3 no results yet or a usage error, 1 the renderer failed.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { $ } from 'zx'

import { CLASSIFICATION_DESCRIPTIONS, CLASSIFICATIONS } from '../helpers/classification.ts'
import { defineCommand, parseCommandArgs, runMain, UsageError } from './_cli.ts'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const REPORTS = resolve(process.env.CLOSEOUT_REPORTS_DIR || join(ROOT, 'reports'))

export interface RenderOptions {
  /** default reports/allure-results */
  resultsDir?: string
  /** default reports/allure-report */
  outDir?: string
  /** one self-contained index.html */
  singleFile?: boolean
  /** default reports/allure-history.jsonl (tests pass a throwaway file so they do not pollute the trend) */
  historyPath?: string
}

export interface AllureCategory {
  name: string
  description: string
  matchedStatuses: ('failed' | 'broken' | 'passed' | 'skipped')[]
  messageRegex?: string
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Allure categories = our classifications (every gate failure message starts with "[<CLASSIFICATION>] "),
 * plus BLOCKED for gates the harness skipped. Used by allurerc.mjs (Awesome) and categories.json (allure2). */
export function allureCategories(): AllureCategory[] {
  return [
    ...CLASSIFICATIONS.map((c) => ({
      name: c,
      description: CLASSIFICATION_DESCRIPTIONS[c],
      matchedStatuses: ['failed', 'broken'] as AllureCategory['matchedStatuses'],
      // `.*…​.*`: Allure 2 full-matches, Allure 3 tests a substring; this form works for both
      messageRegex: `.*${escapeRegex(`[${c}]`)}.*`,
    })),
    {
      name: 'BLOCKED',
      description: 'Not run: a gate it needs failed or was blocked ("blocked by <id>" in summary.json), or an opt-in gate without its flag',
      matchedStatuses: ['skipped'],
    },
  ]
}

export class NoResultsError extends Error {}

export const NO_RESULTS_MESSAGE = 'no results yet: run ./closeout test --tag closeout first'

/** Renders the report; returns the absolute path of its index.html. */
export async function renderReport(o: RenderOptions = {}): Promise<string> {
  const results = resolve(o.resultsDir ?? join(REPORTS, 'allure-results'))
  const out = resolve(o.outDir ?? join(REPORTS, 'allure-report'))
  if (!existsSync(results) || !readdirSync(results).some((f) => f.endsWith('-result.json'))) {
    throw new NoResultsError(`${NO_RESULTS_MESSAGE} (nothing in ${relative(process.cwd(), results) || results})`)
  }
  // the results-directory categories.json: honoured by `allure allure2` and other Allure 2 tooling
  // (the Awesome report reads the same list from allurerc.mjs)
  writeFileSync(join(results, 'categories.json'), `${JSON.stringify(allureCategories(), null, 2)}\n`)
  rmSync(out, { recursive: true, force: true })
  const cli = join(ROOT, 'node_modules', 'allure', 'cli.js')
  const env = {
    ...process.env,
    CLOSEOUT_SINGLE_FILE: o.singleFile ? '1' : '',
    CLOSEOUT_HISTORY_PATH: o.historyPath ? resolve(o.historyPath) : join(REPORTS, 'allure-history.jsonl'),
    NO_COLOR: '1',
  }
  const r = await $({
    cwd: ROOT,
    env,
    nothrow: true,
    quiet: true,
    timeout: '300s',
  })`${process.execPath} ${cli} generate ${results} --config ${join(ROOT, 'allurerc.mjs')} --output ${out}`
  const index = join(out, 'index.html')
  if (r.exitCode !== 0 || !existsSync(index)) {
    // stdout + stderr: the Allure CLI prints its reason on either
    throw new Error(`allure generate failed (exit ${r.exitCode ?? r.signal}): ${`${r.stderr}${r.stdout}`.slice(-800)}`)
  }
  return index
}

export interface ReportArgs {
  singleFile: boolean
  open: boolean
  port?: number
}

const USAGE = `usage: ./closeout report [--single-file] [--open [--port N]]

  --single-file   one self-contained index.html (for mail and tickets)
  --open          then serve the report on localhost until Ctrl-C
  --port N        the port for --open (default: any free one)
exit 0 rendered, 1 the renderer failed, 3 no results yet or a usage error`

/** Serves a rendered report directory on localhost until the process is interrupted; resolves with its exit code. */
async function serveReport(dir: string, port?: number): Promise<number> {
  const cli = join(ROOT, 'node_modules', 'allure', 'cli.js')
  const p = $({
    cwd: ROOT,
    stdio: 'inherit',
    nothrow: true,
  })`${process.execPath} ${cli} open ${dir} ${port ? ['--port', String(port)] : []}`
  const stop = () => void p.kill('SIGTERM')
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return (await p).exitCode ?? 0
}

export const reportCommand = defineCommand({
  name: 'report',
  summary: 'render reports/allure-report with the Allure 3 CLI: [--single-file] [--open [--port N]]',
  usage: USAGE,
  options: { 'single-file': { type: 'boolean' }, open: { type: 'boolean' }, port: { type: 'string' } },
  run: async ({ values }) => {
    const args = toReportArgs(values)
    let index: string
    try {
      index = await renderReport({ singleFile: args.singleFile })
    } catch (e) {
      if (!(e instanceof NoResultsError)) throw e
      process.stderr.write(`closeout report: ${e.message}\n`)
      return 3
    }
    process.stdout.write(`report: ${relative(process.cwd(), index) || index}${args.singleFile ? ' (single self-contained file)' : ''}\n`)
    if (!args.open) return 0
    process.stdout.write('serving it on localhost (Ctrl-C stops)\n')
    await serveReport(dirname(index), args.port)
    return 0
  },
})

function toReportArgs(v: { 'single-file'?: boolean; open?: boolean; port?: string }): ReportArgs {
  const a: ReportArgs = { singleFile: Boolean(v['single-file']), open: Boolean(v.open) }
  if (v.port !== undefined) {
    const port = Number(v.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port needs a port number (1-65535), got ${v.port}`)
    a.port = port
  }
  if (a.port !== undefined && !a.open) throw new UsageError('--port only goes with --open')
  return a
}

/** The report command's arguments (throws UsageError), for callers that render without the CLI. */
export function parseReportArgs(argv: string[]): ReportArgs {
  return toReportArgs(parseCommandArgs(reportCommand, argv).values)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runMain(reportCommand)
