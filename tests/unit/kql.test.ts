// The Log Analytics double's KQL evaluator: the plan's lag/freshness queries over AppMetrics rows.
import { describe, expect, test } from 'vitest'
import { evaluate, KqlError, type MetricRow, metricRows, parseTimespan } from '../../fixtures/local-env/la-double.ts'

const NOW = Date.parse('2026-11-22T12:00:00Z')
const at = (minAgo: number) => new Date(NOW - minAgo * 60_000).toISOString()
const row = (minAgo: number, Name: string, v: number): MetricRow => ({ TimeGenerated: at(minAgo), Name, Max: v, Min: v, Sum: v, Count: 1 })

const ROWS: MetricRow[] = [
  row(1, 'consumer_kafka_lag', 3),
  row(2, 'consumer_kafka_lag', 7),
  row(3, 'consumer_kafka_lag', 1),
  row(12, 'consumer_kafka_lag', 40),
  row(14, 'consumer_kafka_lag', 2),
  row(50, 'consumer_kafka_lag', 999),
  row(1, 'consumer_freshness_seconds', 1.5),
]
const ALL = { start: NOW - 3_600_000, end: NOW }
const LAG = `AppMetrics
| where Name == "consumer_kafka_lag"
| summarize max_lag=max(Max) by bin(TimeGenerated, 5m)
| order by TimeGenerated desc`

describe('KQL evaluator (Log Analytics double)', () => {
  test('the plan query: one row per 5-minute bin, max of Max, newest first, only the named metric', () => {
    const t = evaluate(LAG, { AppMetrics: ROWS }, ALL, NOW)
    expect(t.name).toBe('PrimaryResult')
    expect(t.columns).toEqual([
      { name: 'TimeGenerated', type: 'datetime' },
      { name: 'max_lag', type: 'real' },
    ])
    // bins: 11:55 (1,2,3 min ago → max 7), 11:45 (12,14 min ago → 40), 11:10 (50 min ago → 999)
    expect(t.rows).toEqual([
      ['2026-11-22T11:55:00.000Z', 7],
      ['2026-11-22T11:45:00.000Z', 40],
      ['2026-11-22T11:10:00.000Z', 999],
    ])
  })
  test('where TimeGenerated > ago(30m) and take N', () => {
    const t = evaluate(
      `${LAG.replace('AppMetrics', 'AppMetrics | where TimeGenerated > ago(30m)')}\n| take 1`,
      { AppMetrics: ROWS },
      ALL,
      NOW,
    )
    expect(t.rows).toEqual([['2026-11-22T11:55:00.000Z', 7]])
    const t2 = evaluate(LAG.replace('AppMetrics', 'AppMetrics | where TimeGenerated > ago(30m)'), { AppMetrics: ROWS }, ALL, NOW)
    expect(t2.rows.map((r) => r[1])).toEqual([7, 40])
  })
  test('the request timespan bounds the rows', () => {
    const t = evaluate(LAG, { AppMetrics: ROWS }, { start: NOW - 10 * 60_000, end: NOW - 90_000 }, NOW)
    expect(t.rows).toEqual([['2026-11-22T11:55:00.000Z', 7]])
  })
  test('another metric and another alias', () => {
    const t = evaluate(
      'AppMetrics | where Name == "consumer_freshness_seconds" | summarize max_freshness=max(Max) by bin(TimeGenerated, 5m) | order by TimeGenerated desc',
      { AppMetrics: ROWS },
      ALL,
      NOW,
    )
    expect(t.columns.map((c) => c.name)).toEqual(['TimeGenerated', 'max_freshness'])
    expect(t.rows).toEqual([['2026-11-22T11:55:00.000Z', 1.5]])
  })
  test('an unknown table is 400 BadArgumentError, an unsupported operator 400 too', () => {
    const err = (q: string) => {
      try {
        evaluate(q, { AppMetrics: ROWS }, ALL, NOW)
      } catch (e) {
        return e as KqlError
      }
      throw new Error('no error')
    }
    const e = err('InsightsMetrics | where Name == "x"')
    expect(e).toBeInstanceOf(KqlError)
    expect([e.status, e.code]).toEqual([400, 'BadArgumentError'])
    expect(e.message).toContain("'InsightsMetrics'")
    expect(err('AppMetrics | join kind=inner (AppMetrics) on Name').status).toBe(400)
  })
  test('rows from a real exposition: buckets dropped, values kept', () => {
    const rows = metricRows(
      '# TYPE consumer_kafka_lag gauge\nconsumer_kafka_lag 4\nhttp_request_duration_seconds_bucket{le="0.1"} 2\nhttp_request_duration_seconds_sum 0.3\n',
      new Date(NOW),
    )
    expect(rows).toEqual([
      { TimeGenerated: '2026-11-22T12:00:00.000Z', Name: 'consumer_kafka_lag', Max: 4, Min: 4, Sum: 4, Count: 1 },
      { TimeGenerated: '2026-11-22T12:00:00.000Z', Name: 'http_request_duration_seconds_sum', Max: 0.3, Min: 0.3, Sum: 0.3, Count: 1 },
    ])
  })
  test('timespans as the client sends them', () => {
    expect(parseTimespan('2026-11-22T11:00:00.000Z/2026-11-22T12:00:00.000Z')).toEqual({ start: NOW - 3_600_000, end: NOW })
    expect(parseTimespan('PT30M', NOW)).toEqual({ start: NOW - 1_800_000, end: NOW })
    expect(parseTimespan('2026-11-22T11:00:00.000Z/PT1H')).toEqual({ start: NOW - 3_600_000, end: NOW })
    expect(() => parseTimespan('yesterday')).toThrow(KqlError)
  })
})
