import { describe, expect, test } from 'vitest'
import { hasMetric, parseExposition } from '../../helpers/prom-text.ts'

describe('Prometheus exposition parser', () => {
  const text = [
    '# HELP http_requests_total Requests.',
    '# TYPE http_requests_total counter',
    'http_requests_total{method="GET",route="/admin/tx/:id",status="200"} 12',
    'http_requests_total{method="GET",route="/health",status="200"} 3 1700000000000',
    '# TYPE http_request_duration_seconds histogram',
    'http_request_duration_seconds_bucket{le="0.1"} 10',
    'http_request_duration_seconds_bucket{le="+Inf"} 15',
    'http_request_duration_seconds_sum 1.25',
    'http_request_duration_seconds_count 15',
    'dlq_backlog 0',
    'weird{a="x\\"y",b="z"} NaN',
  ].join('\n')
  test('parses samples, labels (with escapes), types', () => {
    const e = parseExposition(text)
    expect(e.errors).toEqual([])
    expect(e.samples).toHaveLength(8)
    expect(e.samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { method: 'GET', route: '/admin/tx/:id', status: '200' },
      value: 12,
    })
    expect(e.samples.find((s) => s.name === 'weird')?.labels).toEqual({ a: 'x\\"y', b: 'z' })
    expect(e.types.http_request_duration_seconds).toBe('histogram')
  })
  test('finds metric families by name', () => {
    const e = parseExposition(text)
    expect(hasMetric(e, 'http_request_duration_seconds')).toBe(true)
    expect(hasMetric(e, 'http_requests')).toBe(true)
    expect(hasMetric(e, 'consumer_kafka_lag')).toBe(false)
  })
  test('rejects what a scraper rejects', () => {
    expect(parseExposition('not a metric line at all').errors).toHaveLength(1)
    expect(parseExposition('m{a=unquoted} 1').errors).toHaveLength(1)
    expect(parseExposition('m 12abc').errors).toHaveLength(1)
    expect(parseExposition('<html>oops</html>').errors).toHaveLength(1)
  })
})
