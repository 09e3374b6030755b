// closeout diff RUN_A RUN_B [--threshold-pct N] [--min-ms N] [--json]
// Run ids (reports/runs/<id>/) or bundle directories. Prints gates whose status/classification
// changed, durations regressed beyond the threshold, measured values and the profile digest that
// differ. Exit 0 no differences, 1 differences, 3 usage.
import { pathToFileURL } from 'node:url'
import { CompareError, compareRuns, comparisonMarkdown, hasDifferences, loadRun } from '../helpers/compare.ts'

const USAGE = 'usage: closeout diff RUN_A RUN_B [--threshold-pct 50] [--min-ms 200] [--json]   (run ids or bundle directories)'

export function parseDiffArgs(argv: string[]): { a: string; b: string; pct?: number; minMs?: number; json: boolean } | string {
  const pos: string[] = []
  let pct: number | undefined
  let minMs: number | undefined
  let json = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--threshold-pct' || a === '--min-ms') {
      const v = Number(argv[++i])
      if (!Number.isFinite(v) || v < 0) return `${a} needs a non-negative number`
      if (a === '--threshold-pct') pct = v
      else minMs = v
    } else if (a === '--json') json = true
    else if (a.startsWith('-')) return `unknown option ${a}`
    else pos.push(a)
  }
  if (pos.length !== 2) return 'give two runs: RUN_A (before) and RUN_B (now)'
  return { a: pos[0], b: pos[1], pct, minMs, json }
}

export function runDiff(argv: string[]): number {
  const args = parseDiffArgs(argv)
  if (typeof args === 'string') {
    process.stderr.write(`closeout diff: ${args}\n${USAGE}\n`)
    return 3
  }
  try {
    const c = compareRuns(loadRun(args.a), loadRun(args.b), { durationThresholdPct: args.pct, durationMinMs: args.minMs })
    process.stdout.write(args.json ? JSON.stringify(c, null, 2) + '\n' : comparisonMarkdown(c))
    return hasDifferences(c) ? 1 : 0
  } catch (err) {
    if (err instanceof CompareError) {
      process.stderr.write(`closeout diff: ${err.message}\n`)
      return 3
    }
    throw err
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exit(runDiff(process.argv.slice(2)))
