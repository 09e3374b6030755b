// The HTTP part of the bad-input and fault catalogue (issue 14): every client closeout runs itself
// (the API smoke client, Log Analytics through the real SDK, PromQL, the image registry, Azure
// Resource Manager) against servers this file starts and makes misbehave. Each case asserts the
// error kind and classification a gate would get and a one-paragraph message that names the thing
// asked and what to do; the transient cases assert every attempt is reported, and a 50 MB body is
// asserted by the bytes read, never by time. No local environment is needed.

import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttps, type Server as HttpsServer } from 'node:https'
import { type AddressInfo, createServer as createNet, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ensurePki, type Pki } from '../../fixtures/local-env/sim/pki.ts'
import { AccessError, type CallInfo } from '../../helpers/access.ts'
import { ArmError, getManagedCluster } from '../../helpers/arm.ts'
import { GateFailure } from '../../helpers/classification.ts'
import { ApiClient, HttpAccessError, HttpResponseError, httpRequest } from '../../helpers/http.ts'
import { MonitorError, queryAzureMonitor, queryPrometheus } from '../../helpers/monitor.ts'
import { listTags, RegistryError } from '../../helpers/registry.ts'

const TOKEN = 'http-faults-secret-token-31337'
const WS = '11111111-2222-4333-8444-555555555555'
const KQL = 'AppMetrics | where Name == "consumer_freshness_seconds" | summarize max_freshness=max(Max) by bin(TimeGenerated, 5m)'
const FAST_RETRY = { attempts: 3, baseDelayMs: 10, maxDelayMs: 2_000 }

type Handler = (req: IncomingMessage, res: ServerResponse) => void
let pki: Pki
let handler: Handler = (_req, res) => res.end()
let httpServer: Server
let httpsServer: HttpsServer
const held: Socket[] = []
let hangServer: ReturnType<typeof createNet>
const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port
let http: string
let https: string
let hang: string

const listen = <T extends Server | HttpsServer | ReturnType<typeof createNet>>(s: T) =>
  new Promise<T>((r) => s.listen(0, '127.0.0.1', () => r(s)))

async function closedPort(): Promise<number> {
  const s = await listen(createNet())
  const p = port(s)
  await new Promise((r) => s.close(r))
  return p
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(typeof body === 'string' ? body : JSON.stringify(body))
}

/** the error a promise rejects with (the test fails when it resolves) */
async function rejection<T>(p: Promise<unknown>, type: abstract new (...a: never[]) => T): Promise<T> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  )
  expect(e, 'expected a rejection').toBeInstanceOf(type)
  return e as T
}

/** one paragraph, naming the thing, ending with what to do, no token, no stack */
function expectParagraph(e: Error & { fix?: string }, ...names: string[]) {
  expect(e.message).not.toMatch(/\n/)
  expect(e.message).not.toContain(TOKEN)
  expect(e.message).not.toMatch(/\bat .*\.ts:\d+/)
  for (const n of names) expect(e.message).toContain(n)
  if (e instanceof AccessError) {
    expect(e.fix.length).toBeGreaterThan(10)
    expect(e.message.endsWith(` — ${e.fix}`)).toBe(true)
  }
}

beforeAll(async () => {
  pki = ensurePki(join(mkdtempSync(join(tmpdir(), 'http-faults-')), 'pki'))
  httpServer = await listen(createHttp((req, res) => handler(req, res)))
  httpsServer = await listen(
    createHttps({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) }, (req, res) => handler(req, res)),
  )
  hangServer = await listen(createNet((c) => held.push(c)))
  http = `http://127.0.0.1:${port(httpServer)}`
  https = `https://127.0.0.1:${port(httpsServer)}`
  hang = `http://127.0.0.1:${port(hangServer)}`
})

afterAll(async () => {
  for (const c of held) c.destroy()
  for (const s of [httpServer, httpsServer]) s.closeAllConnections()
  await Promise.all([httpServer, httpsServer, hangServer].map((s) => new Promise((r) => s.close(r))))
})

describe('API target (the smoke client): unreachable is blocked, a wrong answer is the gate failing', () => {
  const api = (base: string, extra: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}) =>
    new ApiClient({ baseUrl: async () => base, via: 'direct', timeoutMs: 2_000, ...extra })

  test('refused: HttpAccessError unreachable, ENVIRONMENT_BLOCKED, names host:port and says check the host and port', async () => {
    const p = await closedPort()
    const e = await rejection(api(`http://127.0.0.1:${p}`).get('smoke', '/admin/tx/x'), HttpAccessError)
    expect([e.kind, e.classification, e.code]).toEqual(['unreachable', 'ENVIRONMENT_BLOCKED', 'ECONNREFUSED'])
    expectParagraph(e, `GET http://127.0.0.1:${p}/admin/tx/x`, `nothing listens at 127.0.0.1:${p}`, 'check the host and port')
  })

  test('accepts and never answers: unreachable at the deadline, naming the deadline key', async () => {
    const e = await rejection(api(hang, { timeoutMs: 300 }).get('smoke', '/admin/tx/x'), HttpAccessError)
    expect([e.kind, e.classification]).toEqual(['unreachable', 'ENVIRONMENT_BLOCKED'])
    expectParagraph(e, 'no answer within 300 ms', 'api.timeoutMs')
  })

  test('a host name that does not resolve: unreachable, says check DNS', async () => {
    const e = await rejection(httpRequest('http://tx-lookup-api.nowhere.invalid:8000/admin/tx/x', { timeoutMs: 5_000 }), HttpAccessError)
    expect(e.kind).toBe('unreachable')
    expectParagraph(e, 'tx-lookup-api.nowhere.invalid', 'does not resolve', 'DNS')
  })

  test('an untrusted certificate: tls, says which CA setting; with the CA it answers', async () => {
    handler = (_req, res) => json(res, 200, { ok: true })
    const e = await rejection(httpRequest(`${https}/health`, { timeoutMs: 5_000, caFile: undefined }), HttpAccessError)
    expect([e.kind, e.classification]).toEqual(['tls', 'ENVIRONMENT_BLOCKED'])
    expectParagraph(e, 'certificate is not trusted', 'CLOSEOUT_LOCAL_CA_FILE')
    expect((await httpRequest(`${https}/health`, { timeoutMs: 5_000, caFile: pki.caCert })).status).toBe(200)
  })

  test('an HTML login page where JSON is expected: the gate fails (its own class), naming URL, content type and what came', async () => {
    handler = (_req, res) => (res.writeHead(200, { 'content-type': 'text/html' }), res.end('<html><body>Sign in to continue</body></html>'))
    const e = await rejection(api(http).get('smoke', '/admin/tx/x', { expectStatus: 200, expectJson: true }), HttpResponseError)
    expect(e).toBeInstanceOf(GateFailure)
    expect(e).not.toBeInstanceOf(AccessError)
    expect(e.classification).toBeUndefined() // → the gate's classification (SMOKE_FAILED)
    expectParagraph(e, `GET ${http}/admin/tx/x`, 'text/html, not JSON', 'Sign in to continue')
  })

  test('a 50 MB body is capped: reading stops after maxBodyBytes (bytes read bounded), the gate fails naming the cap', async () => {
    let written = 0
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 0x61)
      const pump = () => {
        while (written < 50 * 1024 * 1024) {
          written += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      res.on('close', () => undefined)
      pump()
    }
    const cap = 256 * 1024
    const r = await httpRequest(`${http}/admin/tx/big`, { timeoutMs: 10_000, maxBodyBytes: cap })
    expect(r.truncated).toBe(true)
    expect(r.bodyLength).toBe(cap)
    expect(r.bytesRead).toBeGreaterThan(cap)
    expect(r.bytesRead).toBeLessThanOrEqual(cap + 256 * 1024) // one socket read beyond the cap at most
    expect(r.json).toBeUndefined()
    const e = await rejection(api(http, { maxBodyBytes: cap }).get('smoke', '/admin/tx/big', { expectStatus: 200 }), HttpResponseError)
    expectParagraph(e, `GET ${http}/admin/tx/big`, `body over ${cap} bytes`, 'then stopped')
  })

  test('a redirect loop stops with the chain named (the gate fails); a plain redirect is followed', async () => {
    handler = (req, res) => {
      if (req.url === '/a') return (res.writeHead(302, { location: '/b' }), res.end())
      if (req.url === '/b') return (res.writeHead(302, { location: '/a' }), res.end())
      if (req.url === '/old') return (res.writeHead(301, { location: '/admin/tx/x' }), res.end())
      json(res, 200, { tx_id: 'x' })
    }
    const e = await rejection(api(http).get('smoke', '/a'), HttpResponseError)
    expectParagraph(e, 'redirects in a loop', `${http}/b → ${http}/a`)
    const ok = await api(http).get('smoke', '/old', { expectStatus: 200 })
    expect([ok.status, ok.redirects]).toEqual([200, [`${http}/admin/tx/x`]])
  })

  test('the observer gets the request line and status; the URL never carries a query-string secret', async () => {
    handler = (_req, res) => json(res, 404, { detail: 'not found' })
    const calls: CallInfo[] = []
    const r = await api(http, { observer: (c) => calls.push(c) }).get('smoke', `/admin/tx/x?sig=${TOKEN}&api-version=1`)
    expect(r.status).toBe(404)
    expect(calls).toEqual([
      {
        kind: 'http',
        command: `GET ${http}/admin/tx/x?sig=REDACTED&api-version=1`,
        target: `${http}/admin/tx/x?sig=REDACTED&api-version=1 (direct)`,
        status: 404,
      },
    ])
    expect(JSON.stringify(r.url)).not.toContain(TOKEN)
  })
})

describe('monitoring: Log Analytics through the real SDK, PromQL', () => {
  const az = (extra: Partial<Parameters<typeof queryAzureMonitor>[0]> = {}) =>
    queryAzureMonitor({
      workspaceId: WS,
      endpoint: `${https}/v1`,
      query: KQL,
      timespan: { duration: 'PT30M' },
      credential: { token: TOKEN },
      timeoutMs: 5_000,
      caFile: pki.caCert,
      retry: FAST_RETRY,
      ...extra,
    })
  const table = (rows: unknown[]) => ({
    tables: [
      {
        name: 'PrimaryResult',
        columns: [
          { name: 'TimeGenerated', type: 'datetime' },
          { name: 'max_freshness', type: 'real' },
        ],
        rows,
      },
    ],
  })

  test('401: unauthorized, MONITORING_ACCESS_BLOCKED, says sign in', async () => {
    handler = (_req, res) =>
      json(res, 401, { error: { code: 'AuthorizationRequiredError', message: 'Valid authentication was not provided' } })
    const e = await rejection(az(), MonitorError)
    expect([e.kind, e.classification, e.statusCode, e.code]).toEqual([
      'unauthorized',
      'MONITORING_ACCESS_BLOCKED',
      401,
      'AuthorizationRequiredError',
    ])
    expectParagraph(e, `Log Analytics workspace ${WS}`, 'sign in')
  })

  test('403: forbidden, says grant Log Analytics Reader', async () => {
    handler = (_req, res) =>
      json(res, 403, { error: { code: 'InsufficientAccessError', message: 'The provided credentials have insufficient access' } })
    const e = await rejection(az(), MonitorError)
    expect([e.kind, e.classification, e.statusCode]).toEqual(['forbidden', 'MONITORING_ACCESS_BLOCKED', 403])
    expectParagraph(e, WS, 'Log Analytics Reader')
  })

  test('429 with Retry-After, then 200: the query passes with two attempts reported', async () => {
    let n = 0
    handler = (_req, res) =>
      ++n === 1
        ? json(res, 429, { error: { code: 'TooManyRequests', message: 'slow down' } }, { 'retry-after': '1' })
        : json(res, 200, table([['2026-11-22T11:55:00Z', 2]]))
    const calls: CallInfo[] = []
    const r = await az({ observer: (c) => calls.push(c) })
    expect(r.rows).toEqual([{ TimeGenerated: '2026-11-22T11:55:00.000Z', max_freshness: 2 }])
    expect(r.attempts).toEqual([
      { attempt: 1, status: 429, error: 'rate-limited', retryAfter: '1', waitMs: 1000 },
      { attempt: 2, status: 200 },
    ])
    expect(calls.map((c) => [c.kind, c.command, c.status])).toEqual([
      ['query', KQL, 429],
      ['query', KQL, 200],
    ])
    expect(calls[1].target).toMatch(/PT30M \(attempt 2\)$/)
  })

  test('429 forever: rate-limited after the budget, every attempt on the error and in the message', async () => {
    handler = (_req, res) => json(res, 429, { error: { code: 'TooManyRequests', message: 'slow down' } }, { 'retry-after': '0' })
    const e = await rejection(az(), MonitorError)
    expect([e.kind, e.classification, e.statusCode]).toEqual(['rate-limited', 'MONITORING_ACCESS_BLOCKED', 429])
    expect(e.attempts?.map((a) => a.status)).toEqual([429, 429, 429])
    expectParagraph(e, WS, 'after 3 attempts', 'wait a few minutes')
  })

  test('a Retry-After beyond the budget is not waited for: blocked at once, saying so', async () => {
    handler = (_req, res) => json(res, 429, { error: { code: 'TooManyRequests', message: 'slow down' } }, { 'retry-after': '3600' })
    const e = await rejection(az(), MonitorError)
    expect(e.attempts?.length).toBe(1)
    expectParagraph(e, 'retry after 3600 s, beyond the retry budget')
  })

  test('a partial result: blocked (rows may be missing), naming the partial error', async () => {
    handler = (_req, res) =>
      json(res, 200, {
        ...table([['2026-11-22T11:55:00Z', 1]]),
        error: { code: 'PartialError', message: 'some shards timed out', details: [{ code: 'QueryTimeout', message: 'x' }] },
      })
    const e = await rejection(az(), MonitorError)
    expect([e.kind, e.monitorKind, e.classification]).toEqual(['server-error', 'partial', 'MONITORING_ACCESS_BLOCKED'])
    expectParagraph(e, 'partial result (PartialError: some shards timed out)', 'neither lag nor freshness can be concluded')
  })

  test('malformed rows (a row shorter than the columns): blocked, naming the row and table', async () => {
    handler = (_req, res) => json(res, 200, table([['2026-11-22T11:55:00Z', 1], ['2026-11-22T12:00:00Z']]))
    const e = await rejection(az(), MonitorError)
    expect([e.kind, e.monitorKind, e.classification]).toEqual(['server-error', 'malformed', 'MONITORING_ACCESS_BLOCKED'])
    expectParagraph(e, 'row 1 of table PrimaryResult', 'Log Analytics query API')
  })

  test('PromQL: 503 then 200 passes with two attempts; a breaching value is returned once, never retried into a pass', async () => {
    let n = 0
    handler = (_req, res) =>
      ++n === 1
        ? json(res, 503, { status: 'error', errorType: 'unavailable', error: 'busy' })
        : json(res, 200, {
            status: 'success',
            data: { resultType: 'matrix', result: [{ metric: {}, values: [[1763812800, n === 2 ? '9' : '1']] }] },
          })
    const pq = () =>
      queryPrometheus({
        url: http,
        query: 'max(consumer_freshness_seconds)',
        start: new Date(1763812800_000),
        end: new Date(1763812815_000),
        stepSeconds: 15,
        timeoutMs: 3_000,
        retry: FAST_RETRY,
      })
    const r = await pq()
    expect(r.attempts.map((a) => a.status)).toEqual([503, 200])
    expect(r.rows[0].value).toBe(9) // over a 5 s SLO: the value is returned as it came
    const again = await pq()
    expect([again.attempts.length, again.rows[0].value]).toEqual([1, 1])
  })

  test('PromQL malformed rows (a sample that is not [time, "value"]): blocked, naming the sample', async () => {
    handler = (_req, res) =>
      json(res, 200, { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[1763812800, 'lots']] }] } })
    const e = await rejection(
      queryPrometheus({
        url: http,
        query: 'max(x)',
        start: new Date(0),
        end: new Date(15_000),
        stepSeconds: 15,
        timeoutMs: 3_000,
        bearerToken: TOKEN,
      }),
      MonitorError,
    )
    expect([e.kind, e.monitorKind, e.classification]).toEqual(['server-error', 'malformed', 'MONITORING_ACCESS_BLOCKED'])
    expectParagraph(e, 'sample 0 of series 0', 'Prometheus HTTP API')
  })
})

describe('registry and ARM: 401 / 403 / 404 / 5xx are "could not check" with their own fix', () => {
  const tags = () =>
    listTags({
      kind: 'registry-v2',
      url: http,
      repository: 'txlookup/consumer',
      credential: { token: TOKEN },
      timeoutMs: 3_000,
      retry: FAST_RETRY,
    })
  const aks = () =>
    getManagedCluster({
      subscriptionId: '00000000-0000-4000-8000-000000000000',
      resourceGroup: 'rg',
      name: 'nsc-aks-dev',
      endpoint: http,
      credential: { token: TOKEN },
      timeoutMs: 3_000,
      retry: FAST_RETRY,
    })
  const cases: [number, string, RegExp][] = [
    [401, 'unauthorized', /credential\.token/],
    [403, 'forbidden', /grant (the identity|it)/],
    [404, 'not-found', /check/],
    [500, 'server-error', /retry later/],
  ]

  for (const [status, kind, fix] of cases) {
    test(`registry ${status}: ${kind}, ENVIRONMENT_BLOCKED, naming the tag-list URL`, async () => {
      handler = (_req, res) => json(res, status, { errors: [{ code: `CODE_${status}`, message: 'from the registry' }] })
      const e = await rejection(tags(), RegistryError)
      expect([e.kind, e.classification, e.statusCode]).toEqual([kind, 'ENVIRONMENT_BLOCKED', status])
      expectParagraph(e, `GET ${http}/v2/txlookup/consumer/tags/list?n=100 answered ${status} (CODE_${status} from the registry)`)
      expect(e.fix).toMatch(fix)
    })

    test(`ARM ${status}: ${kind}, ENVIRONMENT_BLOCKED, naming the cluster and the managedClusters URL`, async () => {
      handler = (_req, res) => json(res, status, { error: { code: `Arm${status}`, message: 'from ARM' } })
      const e = await rejection(aks(), ArmError)
      expect([e.kind, e.classification, e.statusCode, e.armCode]).toEqual([kind, 'ENVIRONMENT_BLOCKED', status, `Arm${status}`])
      expectParagraph(
        e,
        'AKS cluster nsc-aks-dev',
        'managedClusters/nsc-aks-dev?api-version=',
        `answered ${status} (Arm${status}: from ARM)`,
      )
      expect(e.fix).toMatch(status === 500 ? /Resource Manager/ : fix)
    })
  }

  test('registry 503 is transient: retried within the budget, then server-error with every attempt listed', async () => {
    handler = (_req, res) => json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'busy' }] })
    const e = await rejection(tags(), RegistryError)
    expect([e.kind, e.statusCode]).toEqual(['server-error', 503])
    expect(e.attempts?.map((a) => a.status)).toEqual([503, 503, 503])
    expectParagraph(e, 'after 3 attempts')
  })

  test('ARM 429 then 200: the cluster state with two attempts, both reported to the observer', async () => {
    let n = 0
    handler = (_req, res) =>
      ++n === 1
        ? json(res, 429, { error: { code: 'TooManyRequests', message: 'throttled' } }, { 'retry-after': '0' })
        : json(res, 200, { id: '/x', name: 'nsc-aks-dev', properties: { provisioningState: 'Succeeded' } })
    const calls: CallInfo[] = []
    const s = await getManagedCluster({
      subscriptionId: '00000000-0000-4000-8000-000000000000',
      resourceGroup: 'rg',
      name: 'nsc-aks-dev',
      endpoint: http,
      credential: { token: TOKEN },
      timeoutMs: 3_000,
      retry: FAST_RETRY,
      observer: (c) => calls.push(c),
    })
    expect(s.provisioningState).toBe('Succeeded')
    expect(s.attempts.map((a) => a.status)).toEqual([429, 200])
    expect(calls.map((c) => [c.kind, c.status])).toEqual([
      ['arm', 429],
      ['arm', 200],
    ])
    expect(calls[0].command).toMatch(
      /^GET http:\/\/127\.0\.0\.1:\d+\/subscriptions\/.*managedClusters\/nsc-aks-dev\?api-version=2025-08-01$/,
    )
    expect(JSON.stringify(calls)).not.toContain(TOKEN)
  })
})
