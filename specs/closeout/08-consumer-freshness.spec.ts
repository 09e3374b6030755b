/**
 * F3-4 Task 4 — freshness rows exist and their max is within the SLO (5 s).
 */
import { GateFailure, gate, maxMetricValue } from '../../helpers/index.ts'

gate(
  {
    id: 'consumer-freshness',
    suite: 'closeout',
    classification: 'FRESHNESS_SLO_BREACHED',
    needs: ['baseline'],
    evidence: '08_consumer_freshness.log',
    title: 'consumer freshness rows exist and max freshness is within the SLO',
    description:
      'AppMetrics | where Name == "consumer_freshness_seconds" | summarize max_freshness=max(Max) by bin(TimeGenerated, 5m) | order by TimeGenerated desc — rows in the window and max_freshness <= 5s',
  },
  async ({ monitor, target, evidence }) => {
    const r = await monitor('consumer freshness query', 'freshness')
    if (!r.rows.length) {
      throw new GateFailure(
        `the freshness query returned no rows in the last ${target.monitoring.windowMinutes} min: consumer_freshness_seconds is not reported`,
        'MONITORING_ACCESS_BLOCKED',
      )
    }
    const max = maxMetricValue(r.rows)
    // rows without a number cannot show the SLO either way: the query path is not usable as written
    if (Number.isNaN(max))
      throw new GateFailure(
        `the freshness query returned ${r.rows.length} row(s) but no numeric value (columns: ${Object.keys(r.rows[0] ?? {}).join(', ')}); fix monitoring freshnessQuery`,
        'MONITORING_ACCESS_BLOCKED',
      )
    const slo = target.monitoring.freshnessSloSeconds
    await evidence.note(
      'freshness SLO check',
      { max_freshness_seconds: String(max), slo_seconds: String(slo), verdict: max <= slo ? 'within SLO' : 'SLO breached' },
      max <= slo ? 'pass' : 'fail',
    )
    if (!(max <= slo))
      throw new GateFailure(
        `max consumer freshness ${max} s over the last ${target.monitoring.windowMinutes} min exceeds the SLO of ${slo} s`,
      )
  },
)
