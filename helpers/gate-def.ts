// A gate's definition: runbook data, read by the catalogue (tags, --list, README) and by the runner.
import type { Classification } from './classification.ts'
import type { SuiteName } from './suites.ts'

export interface GateInput {
  /** the run value the gate reads (e.g. SYNC_TX_ID) */
  value: string
  /** the gate of the same suite that produces it in the same run */
  from: string
}

export interface GateDef {
  /** stable id, also a vitest tag (and the --tag for a one-gate rerun) */
  id: string
  suite: SuiteName
  /** classification when the check fails (access problems classify ENVIRONMENT_/MONITORING_ACCESS_BLOCKED) */
  classification: Classification
  /** gates of the same suite that must have passed; otherwise this one is BLOCKED and does not run */
  needs?: string[]
  /** values another gate of the same run produces; missing → BLOCKED naming what to run */
  inputs?: GateInput[]
  /** the bundle file this gate writes (names follow the seeds) */
  evidence: string
  /** the expected result, as a test title: "returns 404 for an unknown tx id" */
  title: string
  /** the runbook text this gate automates */
  description: string
  /** may change the target through the `mutate` tool (which still needs --allow-mutations) */
  mutates?: boolean
  /** disrupts the target (opt-in: --allow-disruption); skipped otherwise */
  disrupts?: boolean
  timeoutMs?: number
}
