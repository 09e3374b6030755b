// helpers/monitor.ts: the real LogsQueryClient against the Log Analytics double (HTTPS, a private CA
// trusted only through CLOSEOUT_LOCAL_CA_FILE), PromQL over HTTP, and how every failure is classified.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttps, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startLaDouble } from '../../fixtures/local-env/la-double.ts'
import { ensurePki, type Pki } from '../../fixtures/local-env/sim/pki.ts'
import { AccessError } from '../../helpers/access.ts'
import { MonitorError, queryAzureMonitor, queryPrometheus } from '../../helpers/monitor.ts'

const TOKEN = 'unit-secret-token-4711'
const WS = '11111111-2222-4333-8444-555555555555'
const LAG =
  'AppMetrics | where Name == "consumer_kafka_lag" | summarize max_lag=max(Max) by bin(TimeGenerated, 5m) | order by TimeGenerated desc'
const span = () => ({ startTime: new Date(Date.now() - 30 * 60_000), endTime: new Date(Date.now() + 60_000) })

let dir: string
let pki: Pki
const closers: (() => unknown)[] = []
const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port
const listening = <T extends Server | HttpsServer>(s: T) => new Promise<T>((r) => (s.listening ? r(s) : s.on('listening', () => r(s))))

async function freePort(): Promise<number> {
  const s = await listening(createHttp().listen(0, '127.0.0.1'))
  const p = port(s)
  await new Promise((r) => s.close(r))
  return p
}

function https(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<HttpsServer> {
  const s = createHttps({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) }, handler).listen(0, '127.0.0.1')
  closers.push(() => (s.closeAllConnections(), s.close()))
  return listening(s)
}
function http(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const s = createHttp(handler).listen(0, '127.0.0.1')
  closers.push(() => (s.closeAllConnections(), s.close()))
  return listening(s)
}

async function caught(p: Promise<unknown>): Promise<MonitorError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(MonitorError)
    const m = e as MonitorError
    expect(m).toBeInstanceOf(AccessError)
    expect(m.classification).toBe('MONITORING_ACCESS_BLOCKED')
    expect(m.message).not.toContain(TOKEN)
    return m
  }
  throw new Error('expected a MonitorError')
}

const az = (endpoint: string, extra: Partial<Parameters<typeof queryAzureMonitor>[0]> = {}) =>
  queryAzureMonitor({ workspaceId: WS, endpoint, query: LAG, timespan: span(), credential: { token: TOKEN }, timeoutMs: 5000, ...extra })

let exporter: Server
let doubleUrl: string
let forbiddenUrl: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'monitor-test-'))
  pki = ensurePki(join(dir, 'pki'))
  process.env.CLOSEOUT_LOCAL_CA_FILE = pki.caCert
  let lag = 5
  exporter = await http((_req, res) => res.end(`# TYPE consumer_kafka_lag gauge\nconsumer_kafka_lag ${lag++}\n`))
  for (const faults of [[], ['monitoring-forbidden']]) {
    const p = await freePort()
    const d = startLaDouble({
      port: p,
      faults,
      token: TOKEN,
      workspaceId: WS,
      tlsKey: pki.serverKey,
      tlsCert: pki.serverCert,
      scrapePorts: [port(exporter)],
      scrapeIntervalMs: 100,
    })
    closers.push(() => d.stop())
    await listening(d.server)
    if (faults.length) forbiddenUrl = `https://127.0.0.1:${p}/v1`
    else {
      doubleUrl = `https://127.0.0.1:${p}/v1`
      while (d.rows.length < 3) await new Promise((r) => setTimeout(r, 50))
    }
  }
})

afterAll(async () => {
  for (const c of closers) await c()
  delete process.env.CLOSEOUT_LOCAL_CA_FILE
  rmSync(dir, { recursive: true, force: true })
})

describe('queryAzureMonitor (real LogsQueryClient)', () => {
  test('the plan query against the double: columns and rows from the scraped exposition', async () => {
    const r = await az(doubleUrl)
    expect(r.status).toBe('Success')
    expect(r.columns).toEqual(['TimeGenerated', 'max_lag'])
    expect(r.rows.length).toBeGreaterThanOrEqual(1)
    expect(typeof r.rows[0].TimeGenerated).toBe('string')
    expect(r.rows[0].max_lag).toBeGreaterThanOrEqual(6)
    expect(r.request.kind).toBe('azure-monitor')
    expect(JSON.stringify(r.request)).not.toContain(TOKEN)
  })
  test('the private CA is trusted only through CLOSEOUT_LOCAL_CA_FILE', async () => {
    const saved = process.env.CLOSEOUT_LOCAL_CA_FILE
    delete process.env.CLOSEOUT_LOCAL_CA_FILE
    try {
      const e = await caught(az(doubleUrl))
      expect(e.kind).toBe('tls')
      expect(e.message).toMatch(/certificate is not trusted/)
      expect(e.message).toContain(doubleUrl)
    } finally {
      process.env.CLOSEOUT_LOCAL_CA_FILE = saved
    }
  })
  test('403 InsufficientAccessError under monitoring-forbidden → forbidden', async () => {
    const e = await caught(az(forbiddenUrl))
    expect([e.kind, e.statusCode, e.code]).toEqual(['forbidden', 403, 'InsufficientAccessError'])
    expect(e.message).toContain(WS)
  })
  test('a token the double does not know → forbidden (InvalidTokenError)', async () => {
    const e = await caught(az(doubleUrl, { credential: { token: 'someone-else' } }))
    expect([e.kind, e.statusCode, e.code]).toEqual(['forbidden', 403, 'InvalidTokenError'])
  })
  test('401 AuthorizationRequiredError → unauthorized', async () => {
    const s = await https((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'AuthorizationRequiredError', message: 'Valid authentication was not provided' } }))
    })
    const e = await caught(az(`https://127.0.0.1:${port(s)}/v1`))
    expect([e.kind, e.statusCode, e.code]).toEqual(['unauthorized', 401, 'AuthorizationRequiredError'])
  })
  test('unknown table → missing-table; unsupported KQL → bad-query; unknown workspace → missing-table', async () => {
    expect((await caught(az(doubleUrl, { query: 'InsightsMetrics | take 1' }))).monitorKind).toBe('missing-table')
    const bad = await caught(az(doubleUrl, { query: 'AppMetrics | join (AppMetrics) on Name' }))
    expect([bad.kind, bad.monitorKind, bad.statusCode]).toEqual(['config', 'bad-query', 400])
    expect((await caught(az(doubleUrl, { workspaceId: '99999999-2222-4333-8444-555555555555' }))).kind).toBe('not-found')
  })
  test('a closed port → unreachable; no answer → timeout; 5xx → server-error', async () => {
    const closed = await freePort()
    expect((await caught(az(`https://127.0.0.1:${closed}/v1`))).kind).toBe('unreachable')
    const hang = await https(() => undefined)
    const t = await caught(az(`https://127.0.0.1:${port(hang)}/v1`, { timeoutMs: 400 }))
    expect([t.kind, t.monitorKind]).toEqual(['unreachable', 'timeout'])
    const err = await https((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'ServiceUnavailable', message: 'try later' } }))
    })
    const u = await caught(az(`https://127.0.0.1:${port(err)}/v1`, { retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 } }))
    expect([u.kind, u.statusCode]).toEqual(['server-error', 503])
  })
  test('PartialFailure: blocked by default (rows may be missing); with allowPartial the partialTables are used and the error noted', async () => {
    const s = await https((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          tables: [
            {
              name: 'PrimaryResult',
              columns: [
                { name: 'TimeGenerated', type: 'datetime' },
                { name: 'max_lag', type: 'real' },
              ],
              rows: [['2026-11-22T11:55:00Z', 4]],
            },
          ],
          error: { code: 'PartialError', message: 'some shards timed out', details: [{ code: 'QueryTimeout', message: 'x' }] },
        }),
      )
    })
    const blocked = await caught(az(`https://127.0.0.1:${port(s)}/v1`))
    expect([blocked.kind, blocked.monitorKind]).toEqual(['server-error', 'partial'])
    expect(blocked.message).toMatch(/partial result \(PartialError: some shards timed out\)/)
    const r = await az(`https://127.0.0.1:${port(s)}/v1`, { allowPartial: true })
    expect(r.status).toBe('PartialFailure')
    expect(r.rows).toEqual([{ TimeGenerated: '2026-11-22T11:55:00.000Z', max_lag: 4 }])
    expect(r.partialError).toContain('PartialError')
  })
})

describe('queryPrometheus', () => {
  let prom: Server
  let lastUrl = ''
  beforeAll(async () => {
    prom = await http((req, res) => {
      lastUrl = req.url ?? ''
      const auth = req.headers.authorization
      const send = (s: number, b: unknown) => (res.writeHead(s, { 'content-type': 'application/json' }), res.end(JSON.stringify(b)))
      if (!auth) return send(401, { status: 'error', errorType: 'unauthorized', error: 'token required' })
      if (auth !== `Bearer ${TOKEN}`) return send(403, { status: 'error', errorType: 'forbidden', error: 'no' })
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? ''
      if (q.includes('(((')) return send(400, { status: 'error', errorType: 'bad_data', error: 'parse error' })
      if (q === 'boom') return send(500, { status: 'error', errorType: 'internal', error: 'boom' })
      if (q === 'hang') return
      send(200, {
        status: 'success',
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: {},
              values: [
                [1763812800, '3'],
                [1763812815, '0'],
              ],
            },
          ],
        },
      })
    })
  })
  const pq = (extra: Partial<Parameters<typeof queryPrometheus>[0]> = {}) =>
    queryPrometheus({
      url: `http://127.0.0.1:${port(prom)}`,
      query: 'max(consumer_kafka_lag)',
      start: new Date(1763812800_000),
      end: new Date(1763812815_000),
      stepSeconds: 15,
      bearerToken: TOKEN,
      timeoutMs: 3000,
      ...extra,
    })

  test('query_range rows with the window and step sent', async () => {
    const r = await pq()
    expect(r.status).toBe(200)
    expect(r.rows).toEqual([
      { TimeGenerated: '2025-11-22T12:00:00.000Z', value: 3 },
      { TimeGenerated: '2025-11-22T12:00:15.000Z', value: 0 },
    ])
    expect(lastUrl).toMatch(/^\/api\/v1\/query_range\?/)
    expect(lastUrl).toContain('step=15')
    expect(lastUrl).toContain('start=1763812800')
  })
  test('401, 403, bad PromQL, 5xx, closed port, timeout', async () => {
    expect((await caught(pq({ bearerToken: undefined }))).kind).toBe('unauthorized')
    const f = await caught(pq({ bearerToken: 'wrong' }))
    expect([f.kind, f.statusCode]).toEqual(['forbidden', 403])
    expect((await caught(pq({ query: 'max(((' }))).monitorKind).toBe('bad-query')
    expect((await caught(pq({ query: 'boom' }))).kind).toBe('server-error')
    const closed = await freePort()
    const u = await caught(pq({ url: `http://127.0.0.1:${closed}` }))
    expect(u.kind).toBe('unreachable')
    expect(u.message).toContain(`127.0.0.1:${closed}`)
    expect((await caught(pq({ query: 'hang', timeoutMs: 300 }))).message).toMatch(/no answer within 300 ms/)
  })
})
