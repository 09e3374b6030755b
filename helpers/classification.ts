// Classifications, the decision they lead to, and what an operator must do before a retry.
// Names come from the seeds (F3-4 plan DEC-237, E2-3 runbook, readiness reviews).
import { AccessError, type AccessKind } from './access.ts'
import { safeUrl } from './safe-url.ts'
import type { AccessInit, Attempt } from './transport.ts'

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
] as const

export type Classification = (typeof CLASSIFICATIONS)[number]

/** "Could not check" classifications: the gate is blocked, not failed. */
export const BLOCKING_CLASSIFICATIONS: readonly Classification[] = ['ENVIRONMENT_BLOCKED', 'MONITORING_ACCESS_BLOCKED']

export function isBlockingClassification(c: string | null | undefined): boolean {
  return c != null && (BLOCKING_CLASSIFICATIONS as readonly string[]).includes(c)
}

export function isClassification(value: string): value is Classification {
  return (CLASSIFICATIONS as readonly string[]).includes(value)
}

export const CLASSIFICATION_DESCRIPTIONS: Record<Classification, string> = {
  ENVIRONMENT_BLOCKED:
    'Could not check: cluster/API server unreachable, 401/403, namespace or workload source missing, image tag not in the registry, AKS not Succeeded, T_cutover outside its buffer',
  MONITORING_ACCESS_BLOCKED: 'Could not check: the metrics query path (Azure Monitor / Prometheus) is unavailable or refused',
  STARTUP_FAILED: 'Consumer rollout or its DB / Event Hubs connectivity failed',
  SMOKE_FAILED: 'In-cluster API smoke (/admin/tx 200/404) failed',
  FRESHNESS_SLO_BREACHED: 'Consumer freshness rows exist but exceed the SLO',
  MIGRATION_FAILED: 'Schema migration (alembic upgrade head) failed',
  BACKFILL_FAILED: 'Backfill of the T_cutover-24h … T_cutover-1s window failed',
  SYNC_FAILED: 'Consumer sync of the synthetic happy scenario failed',
  IDEMPOTENCY_FAILED: 'Canonical payload changed after replaying the duplicate scenario',
  READINESS_FAILED: 'Operational readiness check failed',
}

/** What must be true before the next attempt (written into every non-GO summary). */
export const UNBLOCK_CRITERIA: Record<Classification, string> = {
  ENVIRONMENT_BLOCKED:
    'ENVIRONMENT_BLOCKED: the API server is reachable from the runner with valid credentials (kubelogin convert-kubeconfig), the namespace and the API/consumer workloads (or their repository manifests) exist, the consumer image with the API tag is in the registry (AcrPull for the runner), the AKS cluster is provisioningState=Succeeded (Reader on it), and a rehearsal starts within ±5 min of its T_cutover; the gate reason names which; rerun the blocked gates (a rehearsal with a new T_cutover).',
  MONITORING_ACCESS_BLOCKED:
    'MONITORING_ACCESS_BLOCKED: the runner identity can query the workspace (Log Analytics Reader) or the Prometheus endpoint, and the AppMetrics table has consumer_kafka_lag / consumer_freshness_seconds rows; rerun consumer-lag and consumer-freshness.',
  STARTUP_FAILED:
    'STARTUP_FAILED: the consumer rollout completes (pods Ready, no CrashLoopBackOff) and its DB and Event Hubs probes print their success markers; rerun from consumer-rollout.',
  SMOKE_FAILED:
    'SMOKE_FAILED: GET /admin/tx/{known id} answers 200 and an unknown id answers 404 in-cluster; rerun smoke-404 and smoke-200.',
  FRESHNESS_SLO_BREACHED:
    'FRESHNESS_SLO_BREACHED: max consumer_freshness_seconds in the closeout window is within the SLO; investigate consumer throughput, then rerun consumer-freshness.',
  MIGRATION_FAILED:
    'MIGRATION_FAILED: `alembic upgrade head` succeeds in the API pod; fix the migration, set a new T_cutover and rerun the full rehearsal.',
  BACKFILL_FAILED:
    'BACKFILL_FAILED: the backfill command succeeds for the T_cutover-24h … T_cutover-1s window; set a new T_cutover and rerun the full rehearsal.',
  SYNC_FAILED:
    'SYNC_FAILED: the happy-scenario tx becomes visible through the API after consume; set a new T_cutover and rerun the full rehearsal.',
  IDEMPOTENCY_FAILED:
    'IDEMPOTENCY_FAILED: replaying the duplicate scenario leaves the canonical payload hash unchanged; fix the upsert key (tx_id + version), set a new T_cutover and rerun the full rehearsal.',
  READINESS_FAILED: 'READINESS_FAILED: the failed readiness check passes (see its evidence); rerun the readiness suite.',
}

/** Error type gate bodies throw to fail with a specific classification (defaults to the gate's own). */
export class GateFailure extends Error {
  readonly classification: Classification | undefined
  constructor(message: string, classification?: Classification) {
    super(message)
    this.name = 'GateFailure'
    this.classification = classification
  }
}

/** "Could not check": an access problem, classified ENVIRONMENT_BLOCKED or MONITORING_ACCESS_BLOCKED. */
export class GateBlocked extends GateFailure {
  constructor(message: string, classification: 'ENVIRONMENT_BLOCKED' | 'MONITORING_ACCESS_BLOCKED' = 'ENVIRONMENT_BLOCKED') {
    super(message, classification)
    this.name = 'GateBlocked'
  }
}

/** A service closeout asks directly over REST (the image registry, Azure Resource Manager) could not
 * be asked: unreachable, TLS, 401, 403, not found, throttled, failing. That is "could not check":
 * an AccessError, classified ENVIRONMENT_BLOCKED. */
export type ServiceAccessKind = AccessKind

/** The fields of an access error (helpers/transport.ts builds them); message ends with " — fix". */
export type ServiceAccessInit = AccessInit

/** The fix of a message written "what happened — what to do" (the positional constructors' form). */
export function fixOf(message: string): string {
  const i = message.lastIndexOf(' — ')
  return i < 0 ? '' : message.slice(i + 3)
}

export class ServiceAccessError extends AccessError {
  /** the URL asked, without secrets */
  readonly url: string
  /** every attempt when the call was retried (helpers/transport.ts retryTransient) */
  readonly attempts?: Attempt[]
  constructor(init: ServiceAccessInit)
  constructor(kind: ServiceAccessKind, url: string, message: string, statusCode?: number)
  constructor(kindOrInit: ServiceAccessKind | ServiceAccessInit, url?: string, message?: string, statusCode?: number) {
    const init: ServiceAccessInit =
      typeof kindOrInit === 'string'
        ? { kind: kindOrInit, where: url ?? '', url, message: message ?? '', fix: fixOf(message ?? ''), statusCode }
        : kindOrInit
    super({ ...init, where: init.where || init.url || '' })
    this.name = 'ServiceAccessError'
    this.url = init.url ? safeUrl(init.url) : init.where
    if (init.attempts) this.attempts = init.attempts
  }
}
