/**
 * F3-4 Task 4 — consumer lag rows exist in the closeout window (AppMetrics KQL or PromQL).
 */
import { GateFailure, gate } from '../../helpers/index.ts'

gate(
  {
    id: 'consumer-lag',
    suite: 'closeout',
    classification: 'MONITORING_ACCESS_BLOCKED',
    needs: ['baseline'],
    evidence: '07_consumer_lag.log',
    title: 'the consumer lag metric has rows in the closeout window',
    description:
      'AppMetrics | where Name == "consumer_kafka_lag" | summarize max_lag=max(Max) by bin(TimeGenerated, 5m) | order by TimeGenerated desc — must return rows in the window',
  },
  async ({ monitor, target }) => {
    const r = await monitor('consumer lag query', 'lag')
    if (!r.rows.length) {
      throw new GateFailure(
        `the lag query returned no rows in the last ${target.monitoring.windowMinutes} min: consumer_kafka_lag is not reported (primary path unavailable)`,
        'MONITORING_ACCESS_BLOCKED',
      )
    }
  },
)
