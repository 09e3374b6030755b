// ./closeout report [--single-file] [--open [--port N]]: render reports/allure-report from
// reports/allure-results with the Allure 3 CLI (npm `allure`, no Java) and allurerc.mjs (categories =
// classifications, history trend). --single-file: one self-contained index.html for mail and tickets.
// --open: then serve the report on localhost (`allure open`) until Ctrl-C.
// Exit codes: 0 rendered, 3 no results yet or a usage error, 1 the renderer failed.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync, rmSync } from 'node:fs'
import { dirname, join, resolve, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { CLASSIFICATIONS, CLASSIFICATION_DESCRIPTIONS } from '../helpers/classification.ts'

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
  const r = spawnSync(process.execPath, [cli, 'generate', results, '--config', join(ROOT, 'allurerc.mjs'), '--output', out], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      CLOSEOUT_SINGLE_FILE: o.singleFile ? '1' : '',
      CLOSEOUT_HISTORY_PATH: o.historyPath ? resolve(o.historyPath) : join(REPORTS, 'allure-history.jsonl'),
      NO_COLOR: '1',
    },
    timeout: 300_000,
  })
  const index = join(out, 'index.html')
  if (r.status !== 0 || !existsSync(index)) {
    throw new Error(`allure generate failed (exit ${r.status ?? r.signal}): ${`${r.stderr ?? ''}${r.stdout ?? ''}`.slice(-800)}`)
  }
  return index
}

export interface ReportArgs {
  singleFile: boolean
  open: boolean
  port?: number
}

export class ReportUsageError extends Error {}

const USAGE = 'usage: ./closeout report [--single-file] [--open [--port N]]'

export function parseReportArgs(argv: string[]): ReportArgs {
  const a: ReportArgs = { singleFile: false, open: false }
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]
    if (x === '--single-file') a.singleFile = true
    else if (x === '--open') a.open = true
    else if (x === '--port') {
      const port = Number(argv[++i])
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ReportUsageError(`--port needs a port number (1-65535), got ${argv[i] ?? 'nothing'}`)
      a.port = port
    } else throw new ReportUsageError(`unknown option ${x}`)
  }
  if (a.port !== undefined && !a.open) throw new ReportUsageError('--port only goes with --open')
  return a
}

/** Serves a rendered report directory on localhost until the process is interrupted; resolves with its exit code. */
function serveReport(dir: string, port?: number): Promise<number> {
  const cli = join(ROOT, 'node_modules', 'allure', 'cli.js')
  const child = spawn(process.execPath, [cli, 'open', dir, ...(port ? ['--port', String(port)] : [])], { cwd: ROOT, stdio: 'inherit' })
  const stop = () => child.kill('SIGTERM')
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return new Promise((res) => child.on('exit', (code) => res(code ?? 0)))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let args: ReportArgs
  try {
    args = parseReportArgs(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`closeout report: ${(e as Error).message}\n${USAGE}\n`)
    process.exit(3)
  }
  renderReport({ singleFile: args.singleFile }).then(
    async (index) => {
      process.stdout.write(`report: ${relative(process.cwd(), index) || index}${args.singleFile ? ' (single self-contained file)' : ''}\n`)
      if (args.open) {
        process.stdout.write('serving it on localhost (Ctrl-C stops)\n')
        await serveReport(dirname(index), args.port)
      }
      process.exit(0)
    },
    (e: unknown) => {
      process.stderr.write(`closeout report: ${(e as Error).message}\n`)
      process.exit(e instanceof NoResultsError ? 3 : 1)
    },
  )
}
