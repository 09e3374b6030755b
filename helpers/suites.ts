// The suites: the runbook each comes from, its bundle name and summary file (names follow the seeds).

export const SUITES = {
  closeout: {
    title: 'F3-4 runtime closeout',
    bundleSuffix: 'f3_4_runtime_closeout',
    summaryFile: '99_f3_4_runtime_summary.md',
    description: 'F3-4 runtime closeout: consumer startup, DB/Event Hubs connectivity, in-cluster 200/404 smoke, lag/freshness',
  },
  rehearsal: {
    title: 'E2-3 reload/cutover rehearsal',
    bundleSuffix: 'e2_3_reload_cutover_rehearsal',
    summaryFile: '99_summary.md',
    description: 'E2-3 reload/cutover rehearsal: alembic upgrade head, backfill, consumer sync, smoke, idempotency, GO/NO_GO',
  },
  readiness: {
    title: 'Operational readiness',
    bundleSuffix: 'operational_readiness',
    summaryFile: '99_readiness_summary.md',
    description: 'Operational readiness: /health, /ready, /metrics, PII and secrets in logs, workload policy, DLQ backlog',
  },
} as const

export type SuiteName = keyof typeof SUITES
export const SUITE_NAMES = Object.keys(SUITES) as SuiteName[]

export function isSuiteName(s: string): s is SuiteName {
  return s in SUITES
}
