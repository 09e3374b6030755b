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

/** One stage of a suite's declared sequence: when any of its gates fails or is blocked, every gate
 * of the later stages (and every gate of the suite not listed here) is BLOCKED, not run. */
export interface StopStage {
  gates: readonly string[]
  /** the runbook rule, for the reason and the README */
  rule: string
}

/** Stop rules, as the runbooks state them (DESIGN "Classification and decision"). */
export const STOP_RULES: Record<SuiteName, readonly StopStage[]> = {
  closeout: [
    { gates: ['baseline'], rule: 'F3-4 Task 1: no namespace snapshot, no closeout' },
    {
      gates: ['consumer-rollout', 'consumer-db', 'consumer-eventhubs'],
      rule: 'F3-4 Task 2 step 4: BLOCKED (STARTUP_FAILED or ENVIRONMENT_BLOCKED) → stop closeout',
    },
  ],
  rehearsal: [
    { gates: ['precheck'], rule: 'E2-3 §3: precondition fails → ENVIRONMENT_BLOCKED and stop' },
    { gates: ['migrate'], rule: 'E2-3 §5: alembic upgrade head → backfill → consumer sync is a sequence' },
    { gates: ['backfill'], rule: 'E2-3 §5: alembic upgrade head → backfill → consumer sync is a sequence' },
    { gates: ['sync-happy'], rule: 'E2-3 §5: alembic upgrade head → backfill → consumer sync is a sequence' },
    { gates: ['smoke-200', 'smoke-404'], rule: 'E2-3 §5.5: smoke before the idempotency replay' },
    { gates: ['idempotency'], rule: 'E2-3 §5.6' },
  ],
  readiness: [],
}
