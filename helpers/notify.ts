// Notifications: `--notify URL` posts the decision card (decision, failing gates with their class,
// retry metadata, links) to a Slack incoming webhook or a Teams workflow webhook (Adaptive Card).
// The URL is a secret (the path is the credential): it is never printed, logged or written to a
// report; errors name only the kind of webhook and the HTTP status.
export type NotifyFormat = 'slack' | 'teams'

export interface NotifySummary {
  suite: string
  runId: string
  target: string
  decision: string
  gates: { id: string; suite: string; status: string; classification: string | null; reason: string | null }[]
  classifications: string[]
  retry: { owner: string; retryAtUtc: string; unblockCriteria: string[] } | null
  evidenceDir: string | null
  reportDir?: string
  waiversInForce?: { gate: string; ticket: string }[]
}

export class NotifyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'NotifyError'
  }
}

/** Slack: hooks.slack.com; Teams: *.webhook.office.com (connectors), Power Automate / Logic Apps workflows. */
export function detectFormat(url: string, explicit?: string): NotifyFormat {
  if (explicit === 'slack' || explicit === 'teams') return explicit
  if (explicit) throw new NotifyError(`--notify-format ${explicit} is not known: use slack or teams`)
  let host: string
  try {
    host = new URL(url).hostname
  } catch {
    throw new NotifyError('the --notify URL is not a valid URL (it is not shown: it is a secret)')
  }
  if (host === 'hooks.slack.com') return 'slack'
  if (/\.webhook\.office\.com$|\.logic\.azure\.com$|\.powerplatform\.com$|\.powerautomate\.com$/.test(host)) return 'teams'
  throw new NotifyError("cannot tell a Slack from a Teams webhook by the --notify URL's host: add --notify-format slack|teams")
}

/** A link to the CI run, from the usual CI variables (GitHub Actions, Azure Pipelines, GitLab). */
export function ciRunUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID)
    return `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
  if (env.SYSTEM_COLLECTIONURI && env.SYSTEM_TEAMPROJECT && env.BUILD_BUILDID)
    return `${env.SYSTEM_COLLECTIONURI}${encodeURIComponent(env.SYSTEM_TEAMPROJECT)}/_build/results?buildId=${env.BUILD_BUILDID}`
  return env.CI_PIPELINE_URL || undefined
}

interface Card {
  title: string
  facts: [string, string][]
  failing: string[]
  links: [string, string][]
}

export function decisionCard(s: NotifySummary, env: NodeJS.ProcessEnv = process.env): Card {
  const failing = s.gates
    .filter((g) => !['passed', 'skipped', 'advisory'].includes(g.status))
    .map(
      (g) =>
        `${g.suite}/${g.id}: ${g.status.toUpperCase()}${g.classification ? ` ${g.classification}` : ''}${g.reason ? ` — ${g.reason.slice(0, 160)}` : ''}`,
    )
  const facts: [string, string][] = [
    ['Decision', s.decision],
    ['Target', s.target],
    ['Run', s.runId],
    ['Classifications', s.classifications.join(', ') || 'none'],
  ]
  if (s.retry) facts.push(['Retry owner', s.retry.owner], ['Retry at (UTC)', s.retry.retryAtUtc])
  for (const w of s.waiversInForce ?? []) facts.push([`Waiver ${w.gate}`, w.ticket])
  const links: [string, string][] = []
  const ci = ciRunUrl(env)
  if (ci) links.push(['CI run', ci])
  if (s.evidenceDir) links.push(['Evidence bundle', s.evidenceDir])
  if (s.reportDir) links.push(['Allure report', s.reportDir])
  return { title: `closeout ${s.suite}: ${s.decision}`, facts, failing, links }
}

export function slackPayload(c: Card): object {
  const lines = [
    ...c.facts.map(([k, v]) => `*${k}:* ${v}`),
    ...(c.failing.length ? ['*Not passed:*', ...c.failing.map((f) => `• ${f}`)] : []),
  ]
  const links = c.links.map(([k, v]) => (/^https?:/.test(v) ? `<${v}|${k}>` : `${k}: \`${v}\``)).join('  ')
  return {
    text: c.title,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: c.title } },
      { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 2900) } },
      ...(links ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: links.slice(0, 2900) }] }] : []),
    ],
  }
}

/** The Teams workflow ("Post to a channel when a webhook request is received") message: an Adaptive Card attachment. */
export function teamsPayload(c: Card): object {
  const content = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      { type: 'TextBlock', text: c.title, weight: 'Bolder', size: 'Large', wrap: true },
      { type: 'FactSet', facts: c.facts.map(([title, value]) => ({ title, value })) },
      ...(c.failing.length
        ? [
            { type: 'TextBlock', text: 'Not passed', weight: 'Bolder', wrap: true },
            ...c.failing.map((f) => ({ type: 'TextBlock', text: `- ${f}`, wrap: true })),
          ]
        : []),
      ...c.links
        .filter(([, v]) => !/^https?:/.test(v))
        .map(([k, v]) => ({ type: 'TextBlock', text: `${k}: ${v}`, wrap: true, isSubtle: true })),
    ],
    actions: c.links.filter(([, v]) => /^https?:/.test(v)).map(([title, url]) => ({ type: 'Action.OpenUrl', title, url })),
  }
  return { type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }] }
}

/** Post the decision card. The URL never appears in what this throws or returns. */
export async function notify(
  url: string,
  s: NotifySummary,
  opts: { format?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ format: NotifyFormat; status: number }> {
  const format = detectFormat(url, opts.format)
  const card = decisionCard(s, opts.env)
  const body = JSON.stringify(format === 'slack' ? slackPayload(card) : teamsPayload(card))
  const what = format === 'slack' ? 'the Slack webhook' : 'the Teams webhook'
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    })
  } catch (err) {
    // undici's messages can carry the URL: say only what kind of failure it was
    const cause = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'could not connect'
    throw new NotifyError(`posting the decision to ${what} ${cause} (the URL is not shown; check it and the runner's egress)`)
  }
  await res.arrayBuffer()
  if (!res.ok)
    throw new NotifyError(`${what} answered HTTP ${res.status} (the URL is not shown; check it is current and the workflow is on)`)
  return { format, status: res.status }
}

/** argv with the value of --notify replaced, for a command line that is recorded (run.json, summaries). */
export function redactNotifyArgs(argv: readonly string[]): string[] {
  return argv.map((a, i) => (argv[i - 1] === '--notify' ? '***' : a.startsWith('--notify=') ? '--notify=***' : a))
}
