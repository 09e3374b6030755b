// Traceability: every runbook step of the seeds, the gates that check it, and the steps no gate
// covers (reviewer loops, roadmap update, verification ladder): those are listed as "not automated"
// so a GO never reads as "the whole runbook was done".
export type RunbookName = 'F3-4' | 'E2-3' | 'AC' | 'Phase 7' | 'Week 4'

export interface RunbookStep {
  /** as the seed names it: "F3-4 Task 2 Step 3", "E2-3 §5.6", "AC Phase 2" */
  step: string
  runbook: RunbookName
  title: string
  /** suite/id of the gates that check this step */
  gates: string[]
  /** a step the harness itself performs (no gate of its own): what does it */
  harness?: string
  /** a step that stays with people: why */
  manual?: string
}

const REVIEW =
  'reviewer loop (Implementer / Spec Reviewer / Code Quality Reviewer): a human or agent review of the evidence, not a check of the target'

export const RUNBOOK_STEPS: readonly RunbookStep[] = [
  { step: 'F3-4 Task 1 Step 1', runbook: 'F3-4', title: 'snapshot AKS, namespace and workloads', gates: ['closeout/baseline'] },
  {
    step: 'F3-4 Task 1 Step 2',
    runbook: 'F3-4',
    title: 'record the evidence set names',
    gates: [],
    harness: 'the evidence bundle: file names follow the seeds, MANIFEST.sha256, signed attestation',
  },
  { step: 'F3-4 Task 1 Step 3', runbook: 'F3-4', title: 'subagent review loop', gates: [], manual: REVIEW },
  {
    step: 'F3-4 Task 2 Step 1',
    runbook: 'F3-4',
    title: 'identify the consumer workload source (live, else repository; neither: ENVIRONMENT_BLOCKED)',
    gates: ['closeout/consumer-rollout'],
  },
  {
    step: 'F3-4 Task 2 Step 2',
    runbook: 'F3-4',
    title: 'consumer rollout/startup with the API image tag',
    gates: ['closeout/consumer-rollout'],
  },
  {
    step: 'F3-4 Task 2 Step 3',
    runbook: 'F3-4',
    title: 'DB / Event Hubs connectivity from the consumer',
    gates: ['closeout/consumer-db', 'closeout/consumer-eventhubs'],
  },
  {
    step: 'F3-4 Task 2 Step 4',
    runbook: 'F3-4',
    title: 'branch policy (startup failed or blocked stops the closeout)',
    gates: [],
    harness: 'gate needs: later gates are BLOCKED naming the gate they need',
  },
  { step: 'F3-4 Task 2 Step 5', runbook: 'F3-4', title: 'subagent review loop', gates: [], manual: REVIEW },
  { step: 'F3-4 Task 3 Step 1', runbook: 'F3-4', title: 'in-cluster smoke: unknown tx id → 404', gates: ['closeout/smoke-404'] },
  { step: 'F3-4 Task 3 Step 2', runbook: 'F3-4', title: 'known tx id from the DB → 200', gates: ['closeout/smoke-200'] },
  {
    step: 'F3-4 Task 3 Step 3',
    runbook: 'F3-4',
    title: 'capture outputs and payload excerpts',
    gates: ['closeout/smoke-404', 'closeout/smoke-200'],
  },
  { step: 'F3-4 Task 3 Step 4', runbook: 'F3-4', title: 'subagent review loop', gates: [], manual: REVIEW },
  {
    step: 'F3-4 Task 4 Step 1',
    runbook: 'F3-4',
    title: 'lag / freshness from Azure Monitor AppMetrics (freshness ≤ SLO)',
    gates: ['closeout/consumer-lag', 'closeout/consumer-freshness'],
  },
  {
    step: 'F3-4 Task 4 Step 2',
    runbook: 'F3-4',
    title: 'fallback: query path unavailable → MONITORING_ACCESS_BLOCKED with retry metadata',
    gates: ['closeout/consumer-lag', 'closeout/consumer-freshness'],
  },
  { step: 'F3-4 Task 4 Step 3', runbook: 'F3-4', title: 'subagent review loop', gates: [], manual: REVIEW },
  {
    step: 'F3-4 Task 5 Step 1',
    runbook: 'F3-4',
    title: 'evaluate the closeout gate',
    gates: [],
    harness: 'the decision (GO / NO_GO / BLOCKED) in summary.json and 99_f3_4_runtime_summary.md',
  },
  {
    step: 'F3-4 Task 5 Step 2',
    runbook: 'F3-4',
    title: 'update the roadmap checkboxes',
    gates: [],
    manual: 'a change to the roadmap document, made by its owner after a GO',
  },
  {
    step: 'F3-4 Task 5 Step 3',
    runbook: 'F3-4',
    title: 'verification ladder',
    gates: [],
    manual: 'the repository verification ladder (lint, unit, integration) runs in the product repository, not against the target',
  },
  { step: 'F3-4 Task 5 Step 4', runbook: 'F3-4', title: 'final subagent review loop', gates: [], manual: REVIEW },
  {
    step: 'E2-3 §2.1',
    runbook: 'E2-3',
    title: 'jumpbox command wrapper for the private AKS',
    gates: [],
    harness: 'not needed: the runner talks to the API server (jumpbox, CI agent or in-cluster Job)',
  },
  {
    step: 'E2-3 §3',
    runbook: 'E2-3',
    title: 'preconditions: AKS Succeeded, namespace, deployments, no crashloop',
    gates: ['rehearsal/precheck'],
  },
  { step: 'E2-3 §4', runbook: 'E2-3', title: 'T_cutover policy (UTC, ±5 min buffer)', gates: ['rehearsal/precheck'] },
  { step: 'E2-3 §5.1', runbook: 'E2-3', title: 'generate synthetic JSONL for the backfill', gates: ['rehearsal/backfill'] },
  { step: 'E2-3 §5.2', runbook: 'E2-3', title: 'migration gate (alembic upgrade head)', gates: ['rehearsal/migrate'] },
  { step: 'E2-3 §5.3', runbook: 'E2-3', title: 'backfill gate (T_cutover−24h … T_cutover−1s)', gates: ['rehearsal/backfill'] },
  { step: 'E2-3 §5.4', runbook: 'E2-3', title: 'consumer sync gate (synthetic happy)', gates: ['rehearsal/sync-happy'] },
  { step: 'E2-3 §5.5', runbook: 'E2-3', title: 'API smoke gate (200 and 404)', gates: ['rehearsal/smoke-200', 'rehearsal/smoke-404'] },
  { step: 'E2-3 §5.6', runbook: 'E2-3', title: 'idempotency gate (duplicate replay, canonical hash)', gates: ['rehearsal/idempotency'] },
  {
    step: 'E2-3 §6',
    runbook: 'E2-3',
    title: 'decision and rollback',
    gates: [],
    harness: '08_cutover_decision.log and 09_rollback_or_no_rollback.log from the decision',
  },
  {
    step: 'E2-3 §7',
    runbook: 'E2-3',
    title: 'evidence storage contract',
    gates: [],
    harness: 'the evidence bundle under reports/evidence/<UTC>_e2_3_reload_cutover_rehearsal/',
  },
  {
    step: 'AC Phase 1',
    runbook: 'AC',
    title: 'deployment foundation: probes, resources, non-root, NetworkPolicy (ADR-0012)',
    gates: ['readiness/workload-policy'],
  },
  {
    step: 'AC Phase 2',
    runbook: 'AC',
    title: 'operational safety: /ready for the readiness probe',
    gates: ['readiness/ready', 'readiness/workload-policy'],
  },
  { step: 'AC Phase 3', runbook: 'AC', title: 'observability: /metrics with the required names', gates: ['readiness/metrics'] },
  { step: 'AC Security / Observability', runbook: 'AC', title: 'no PII and no secrets in recent logs', gates: ['readiness/log-hygiene'] },
  {
    step: 'AC Phase 4',
    runbook: 'AC',
    title: 'documentation and testing',
    gates: [],
    manual: 'documents and the product test suite, reviewed by their owners',
  },
  {
    step: 'AC Phase 5',
    runbook: 'AC',
    title: 'operational readiness review and hardening',
    gates: [],
    manual: "the specialists' review meeting; closeout supplies its evidence",
  },
  { step: 'Phase 7 §1', runbook: 'Phase 7', title: '/health reports every dependency', gates: ['readiness/health'] },
  {
    step: 'Phase 7 §3',
    runbook: 'Phase 7',
    title: 'DLQ backlog under threshold, DLQ tool list/report work',
    gates: ['readiness/dlq-backlog'],
  },
  { step: 'Phase 7 §4', runbook: 'Phase 7', title: 'event ledger tables, CHECK constraint and indexes', gates: ['readiness/event-ledger'] },
  { step: 'Week 4 W4-001', runbook: 'Week 4', title: 'Prometheus exposition of the service metrics', gates: ['readiness/metrics'] },
]

/** The runbook steps a gate checks (empty when the gate is not in the table: a new spec must be added). */
export function runbookStepsOf(suite: string, id: string): string[] {
  const ref = `${suite}/${id}`
  return RUNBOOK_STEPS.filter((s) => s.gates.includes(ref)).map((s) => s.step)
}

export interface CoverageRow {
  step: string
  title: string
  gate: string
  status: string
}

/** Runbook step → gate → status for the suites this run touched; steps no gate covers are listed too. */
export function coverageRows(gates: { id: string; suite: string; status: string }[]): CoverageRow[] {
  const suites = new Set(gates.map((g) => g.suite))
  const runbooks = new Set<RunbookName>()
  if (suites.has('closeout')) runbooks.add('F3-4')
  if (suites.has('rehearsal')) runbooks.add('E2-3')
  if (suites.has('readiness')) ['AC', 'Phase 7', 'Week 4'].forEach((r) => runbooks.add(r as RunbookName))
  const rows: CoverageRow[] = []
  for (const s of RUNBOOK_STEPS.filter((x) => runbooks.has(x.runbook))) {
    if (s.manual) rows.push({ step: s.step, title: s.title, gate: '-', status: `NOT AUTOMATED (${s.manual})` })
    else if (s.harness) rows.push({ step: s.step, title: s.title, gate: '-', status: `BY THE HARNESS (${s.harness})` })
    for (const ref of s.gates) {
      const g = gates.find((x) => `${x.suite}/${x.id}` === ref)
      rows.push({ step: s.step, title: s.title, gate: ref, status: g ? g.status.toUpperCase() : 'NOT SELECTED' })
    }
  }
  return rows
}

export function coverageTable(gates: { id: string; suite: string; status: string }[]): string {
  const rows = coverageRows(gates)
  if (!rows.length) return ''
  const esc = (t: string) => t.replace(/\|/g, '\\|')
  return [
    '## Runbook coverage',
    '',
    '| runbook step | what | gate | status |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.step} | ${esc(r.title)} | ${r.gate} | ${esc(r.status)} |`),
    '',
  ].join('\n')
}
