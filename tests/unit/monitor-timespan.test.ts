// helpers/monitor.ts, what the request carries: a relative {duration} timespan or an absolute window
// on the wire, the private CA given per call (caFile, no process-wide variable), the request record
// (URL + workspace, never the token), and a deadline that closes the socket instead of leaving it open.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ensurePki } from '../../fixtures/local-env/sim/pki.ts'
import { MonitorError, queryAzureMonitor } from '../../helpers/monitor.ts'

const TOKEN = 'unit-token-timespan-0815'
const WS = '99999999-2222-4333-8444-555555555555'
const QUERY =
  'AppMetrics | where Name == "consumer_freshness_seconds" | summarize max_freshness=max(Max) by bin(TimeGenerated, 5m) | order by TimeGenerated desc'

let dir: string
let caFile: string
let server: Server
let endpoint: string
let hang = false
const bodies: { timespan?: string; query?: string }[] = []
let closedEarly = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'monitor-timespan-'))
  const pki = ensurePki(join(dir, 'pki'))
  caFile = pki.caCert
  server = createServer(
    { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) },
    (req: IncomingMessage, res: ServerResponse) => {
      let b = ''
      req.on('data', (d: Buffer) => (b += d.toString()))
      req.on('end', () => {
        bodies.push(JSON.parse(b) as { timespan?: string })
        if (hang) {
          res.on('close', () => closedEarly++)
          return
        }
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
        res.end(
          JSON.stringify({
            tables: [
              {
                name: 'PrimaryResult',
                columns: [
                  { name: 'TimeGenerated', type: 'datetime' },
                  { name: 'max_freshness', type: 'real' },
                ],
                rows: [['2026-11-22T12:00:00Z', 1.2]],
              },
            ],
          }),
        )
      })
    },
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  delete process.env.CLOSEOUT_LOCAL_CA_FILE
})

afterAll(() => {
  server.closeAllConnections()
  server.close()
  rmSync(dir, { recursive: true, force: true })
})

const ask = (extra: Partial<Parameters<typeof queryAzureMonitor>[0]>) =>
  queryAzureMonitor({
    workspaceId: WS,
    endpoint,
    query: QUERY,
    timespan: { duration: 'PT30M' },
    credential: { token: TOKEN },
    timeoutMs: 5000,
    caFile,
    ...extra,
  })

describe('queryAzureMonitor requests', () => {
  test('{duration} goes on the wire as an ISO 8601 duration; the record names URL and workspace, not the token', async () => {
    bodies.length = 0
    const r = await ask({})
    expect(bodies[0]).toEqual({ query: QUERY, timespan: 'PT30M' })
    expect(r.rows).toEqual([{ TimeGenerated: '2026-11-22T12:00:00.000Z', max_freshness: 1.2 }])
    expect(r.request).toMatchObject({
      kind: 'azure-monitor',
      url: `${endpoint}/workspaces/${WS}/query`,
      workspace: WS,
      timespan: 'PT30M',
      query: QUERY,
    })
    expect(JSON.stringify(r)).not.toContain(TOKEN)
  })

  test('{startTime, endTime} goes on the wire as an ISO interval', async () => {
    bodies.length = 0
    const r = await ask({ timespan: { startTime: new Date('2026-11-22T11:30:00Z'), endTime: new Date('2026-11-22T12:00:00Z') } })
    expect(bodies[0].timespan).toBe('2026-11-22T11:30:00.000Z/2026-11-22T12:00:00.000Z')
    expect(r.request.timespan).toBe('2026-11-22T11:30:00.000Z/2026-11-22T12:00:00.000Z')
  })

  test('the private CA comes from the caFile option alone (no CLOSEOUT_LOCAL_CA_FILE, no NODE_EXTRA_CA_CERTS)', async () => {
    expect(process.env.CLOSEOUT_LOCAL_CA_FILE).toBeUndefined()
    await expect(ask({})).resolves.toMatchObject({ status: 'Success' })
    const e = await ask({ caFile: undefined }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(MonitorError)
    expect((e as MonitorError).kind).toBe('tls')
  })

  test('no answer: timeout on time, and the socket is closed rather than left open', async () => {
    hang = true
    closedEarly = 0
    try {
      const t0 = Date.now()
      const e = await ask({ timeoutMs: 800 }).catch((x: unknown) => x)
      expect((e as MonitorError).monitorKind).toBe('timeout')
      expect(Date.now() - t0).toBeLessThan(2500)
      const until = Date.now() + 2000
      while (!closedEarly && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      expect(closedEarly).toBe(1)
    } finally {
      hang = false
    }
  })
})
