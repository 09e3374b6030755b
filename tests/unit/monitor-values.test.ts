// Which number in the monitoring rows is the measurement (consumer-freshness compares it with the SLO).
import { expect, test } from 'vitest'
import { maxMetricValue } from '../../helpers/monitor-values.ts'

test('KQL rows: the max_* aggregate, also when it arrives as a decimal string; time columns never count', () => {
  expect(
    maxMetricValue([
      { TimeGenerated: '2026-12-01T10:00:00Z', max_freshness: 2.5 },
      { TimeGenerated: '2026-12-01T10:05:00Z', max_freshness: '4.25' },
    ]),
  ).toBe(4.25)
  // an extra numeric column beside the aggregate is not the measurement
  expect(maxMetricValue([{ TimeGenerated: 't', max_freshness: 3, samples: 120 }])).toBe(3)
})

test('PromQL rows: `value`, never a label that happens to look like a number', () => {
  const rows = [
    { TimeGenerated: '2026-12-01T10:00:00Z', __name__: 'consumer_freshness_seconds', code: '500', partition: '7', value: 1.5 },
    { TimeGenerated: '2026-12-01T10:00:15Z', __name__: 'consumer_freshness_seconds', code: '500', partition: '7', value: 2 },
  ]
  expect(maxMetricValue(rows)).toBe(2)
})

test('without a named value column: numeric columns only; nothing numeric is NaN', () => {
  expect(maxMetricValue([{ TimeGenerated: 't', freshness: 3, pod: '12' }])).toBe(3)
  expect(Number.isNaN(maxMetricValue([{ TimeGenerated: 't', pod: 'a' }]))).toBe(true)
  expect(Number.isNaN(maxMetricValue([]))).toBe(true)
})
