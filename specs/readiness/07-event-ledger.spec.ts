/**
 * Phase 7 §4 — the event_ledger tables, the processing_result CHECK constraint and the indexes exist.
 */
import { fillCommand, GateBlocked, GateFailure, gate, ledgerCatalogQuery, ledgerProblems } from '../../helpers/index.ts'
import { requireReadiness } from '../shared/readiness.ts'

gate(
  {
    id: 'event-ledger',
    suite: 'readiness',
    classification: 'READINESS_FAILED',
    evidence: '07_event_ledger.log',
    title: 'the event_ledger tables, their processing_result CHECK constraint and indexes exist',
    description:
      'Phase 7 "Event Ledger & Idempotency Infrastructure": "Created event_ledger tables in both identity and public schemas", "Check constraints for processing_result validation", "Optimized indexes": catalog queries (to_regclass, pg_constraint, pg_indexes) through readiness.eventLedger.command in the database pod',
  },
  async (ctx) => {
    const spec = requireReadiness(
      ctx,
      'eventLedger',
      'eventLedger: { command: [psql, -At, -F, "|", -c, "{sql}"], tables: [identity.event_ledger] }',
    )
    const db = ctx.target.database
    const r = await ctx.exec('catalog: event_ledger tables, CHECK constraint, indexes', {
      deployment: db.deployment,
      container: db.container,
      command: fillCommand(spec.command, { sql: ledgerCatalogQuery(spec) }),
    })
    if (r.exitCode !== 0) {
      const why = (r.error ?? r.stderr).trim().split('\n').filter(Boolean).slice(-1)[0] ?? ''
      // the catalog could not be read: not a finding about the ledger
      throw new GateBlocked(
        `the catalog query failed in deploy/${db.deployment} (exit ${r.exitCode ?? 'unknown'}): ${why}; check readiness.eventLedger.command`,
      )
    }
    const problems = ledgerProblems(r.stdout, spec)
    await ctx.evidence.note(
      'event ledger',
      {
        tables: spec.tables.join(', '),
        check: spec.checkConstraint,
        indexes: spec.indexes.join(', ') || '-',
        problems: problems.join('\n') || 'none',
      },
      problems.length ? 'fail' : 'pass',
    )
    if (problems.length) throw new GateFailure(`event ledger: ${problems.join('; ')}`)
  },
)
