// node ci/decision-summary.ts [SUMMARY_JSON] [--report-url URL] [--exit-code N]: the decision as Markdown,
// for the GitHub job summary ($GITHUB_STEP_SUMMARY) and the Azure Pipelines build summary
// (##vso[task.uploadsummary]). Without a summary file it still prints one line with the exit code, so a
// run that never produced a summary is visible in the summary too.
import { existsSync, readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import type { Summary } from '../helpers/decision.ts'

const cell = (s: string | null | undefined) => (s ?? '').replace(/\|/g, '/').replace(/\n/g, ' ').slice(0, 300)

/** Markdown: heading with the decision, target and run, a row per gate, the retry, the report link. */
export function decisionMarkdown(s: Summary | null, opts: { reportUrl?: string; exitCode?: string } = {}): string {
  const link = opts.reportUrl ? ['', `Allure report (with history): ${opts.reportUrl}`] : []
  if (!s)
    return [
      `## closeout: no summary (exit code ${opts.exitCode || 'none'})`,
      '',
      'The run stopped before reports/latest/summary.json was written; see the log.',
      ...link,
    ].join('\n')
  const rows = s.gates.map((g) => `| ${g.suite}/${g.id} | ${g.status} | ${g.classification ?? ''} | ${cell(g.reason)} |`)
  const retry = s.retry
    ? ['', `Retry: owner ${s.retry.owner}, not before ${s.retry.retryAtUtc}`, ...s.retry.unblockCriteria.map((c) => `- ${c}`)]
    : []
  const config = s.configError ? ['', `Configuration error: ${cell(s.configError)}`] : []
  return [
    `## closeout: ${s.decision}`,
    '',
    `target ${s.target}, run ${s.runId}${opts.exitCode ? `, exit code ${opts.exitCode}` : ''}`,
    '',
    '| gate | status | classification | reason |',
    '|---|---|---|---|',
    ...rows,
    ...config,
    ...retry,
    ...link,
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2)
  const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined)
  const file = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--')) ?? 'reports/latest/summary.json'
  const summary = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Summary) : null
  process.stdout.write(decisionMarkdown(summary, { reportUrl: opt('--report-url'), exitCode: opt('--exit-code') }) + '\n')
}
