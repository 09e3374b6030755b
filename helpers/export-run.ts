// The network exports after a run, awaited by the CLI once the summary is final: OTLP traces when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, the decision card when --notify URL (or CLOSEOUT_NOTIFY_URL)
// is given. Never throws and never changes the decision or the exit code: a failed export is a
// printed line, because the verdict must not depend on a chat service or a collector.

import { type NotifySummary, notify } from './notify.ts'
import { exportOtel, type OtelSummary } from './otel.ts'

export interface ExportOptions {
  notifyUrl?: string
  notifyFormat?: string
  env?: NodeJS.ProcessEnv
}

export async function exportRun(s: OtelSummary & NotifySummary, o: ExportOptions = {}): Promise<string[]> {
  const env = o.env ?? process.env
  const lines: string[] = []
  try {
    const r = await exportOtel(s, env)
    if (r) lines.push(`traces: ${r.spans} spans sent to ${r.endpoint}`)
  } catch (err) {
    lines.push(`traces: ${err instanceof Error ? err.message : String(err)}`)
  }
  const url = o.notifyUrl ?? env.CLOSEOUT_NOTIFY_URL
  if (url) {
    try {
      const r = await notify(url, s, { format: o.notifyFormat ?? env.CLOSEOUT_NOTIFY_FORMAT, env })
      lines.push(`notify: decision card posted to the ${r.format === 'slack' ? 'Slack' : 'Teams'} webhook (HTTP ${r.status})`)
    } catch (err) {
      lines.push(`notify: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  return lines
}
