// Allure categories = our classifications (plain JS: read by allurerc.mjs and bin/report.ts).
// Every gate failure message starts with "[<CLASSIFICATION>] ".
export const CLASSIFICATIONS = [
  'ENVIRONMENT_BLOCKED',
  'MONITORING_ACCESS_BLOCKED',
  'STARTUP_FAILED',
  'SMOKE_FAILED',
  'FRESHNESS_SLO_BREACHED',
  'MIGRATION_FAILED',
  'BACKFILL_FAILED',
  'SYNC_FAILED',
  'IDEMPOTENCY_FAILED',
  'READINESS_FAILED',
]

export const categories = [
  ...CLASSIFICATIONS.map((c) => ({ name: c, matchedStatuses: ['failed', 'broken'], messageRegex: `.*\\[${c}\\].*` })),
  { name: 'BLOCKED (a needed gate did not pass)', matchedStatuses: ['skipped'], messageRegex: '.*blocked by .*' },
]
