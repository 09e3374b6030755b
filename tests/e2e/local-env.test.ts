// ./closeout env up / status / down as a newcomer uses them, and the reference stack behind it:
// the API through its pod port, publish → consume → visible, idempotent replay (and the
// non-idempotent fault), the Log Analytics double through the real client, PromQL through the
// gateway, 403 under monitoring-forbidden, psql as the postgres pod runs it.

import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { Redis } from 'ioredis'
import { beforeAll, describe, expect, test } from 'vitest'
import { ports, stopPostgres } from '../../fixtures/local-env/services.ts'
import type { ClusterDefinition } from '../../fixtures/local-env/sim/types.ts'
import { GROUP, STREAM } from '../../fixtures/local-env/stack/db.ts'
import { MonitorError, queryAzureMonitor, queryPrometheus } from '../../helpers/monitor.ts'
import { node, ROOT } from './_run.ts'

const open = (port: number) =>
  new Promise<boolean>((res) => {
    const s = createConnection({ host: '127.0.0.1', port })
    s.on('connect', () => (s.destroy(), res(true)))
    s.on('error', () => res(false))
  })

/** true when nothing listens on 127.0.0.1:port (a listen there succeeds) */
const bindable = (port: number) =>
  new Promise<boolean>((res) => {
    const srv = createServer()
    srv.once('error', () => res(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)))
  })

/** A port base whose every port env up checks is free right now; below the kernel's ephemeral range
 * (32768+), so no outgoing connection takes one of them meanwhile. Fails at once if none is found. */
async function pickFreeBase(): Promise<number> {
  const offsets = Object.values(ports())
    .filter((v): v is number => typeof v === 'number')
    .map((v) => v - ports().sim + 443)
  for (let i = 0; i < 40; i++) {
    const base = 20_000 + Math.floor(Math.random() * 120) * 100
    if ((await Promise.all(offsets.map((o) => bindable(base + o)))).every(Boolean)) return base
  }
  throw new Error('no free port base between 20000 and 32000 (every candidate has a port in use)')
}

interface EnvJson {
  ports: Record<string, number>
  faults: string[]
  tokens: { admin: string; monitoring: string }
  workspaceId: string
  caFile: string
}
const envJson = () => JSON.parse(readFileSync(join(ROOT, 'reports/local-env/env.json'), 'utf8')) as EnvJson
const cluster = () => JSON.parse(readFileSync(join(ROOT, 'reports/local-env/cluster.json'), 'utf8')) as ClusterDefinition
const BIN = join(ROOT, 'fixtures/local-env/stack/bin')

/** a stack command with the pods' environment (the txlookup-api-env secret + the fault switch) */
function stack(cmd: string, args: string[]): { code: number | null; out: string } {
  const ns = cluster().namespaces[0]
  const secret = ns.secrets.find((s) => s.name === 'txlookup-api-env')?.data ?? {}
  const env = {
    ...process.env,
    ...secret,
    CLOSEOUT_FAULTS: envJson().faults.join(','),
    PATH: `${BIN}:${dirname(process.execPath)}:${process.env.PATH}`,
  }
  const r = spawnSync(join(BIN, cmd), args, { env, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

async function getTx(id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${envJson().ports.api}/admin/tx/${id}`)
  return { status: r.status, body: (await r.json()) as Record<string, unknown> }
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** every published entry delivered and acknowledged by the consumer group (the replay has been applied) */
async function drained(): Promise<void> {
  const r = new Redis(`redis://127.0.0.1:${envJson().ports.redis}/0`, { maxRetriesPerRequest: 1 })
  try {
    await until('consumer group drained', async () => {
      const groups = (await r.xinfo('GROUPS', STREAM)) as unknown[][]
      const g = groups
        .map((x) => Object.fromEntries(x.flatMap((v, i) => (i % 2 ? [] : [[String(v), x[i + 1]]]))))
        .find((x) => x.name === GROUP)
      return g && Number(g.lag) === 0 && Number(g.pending) === 0 ? true : undefined
    })
  } finally {
    r.disconnect()
  }
}

const canonical = (b: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(b).filter(([k]) => k !== 'event_time' && k !== 'data_lag_sec'))

/** publish happy → consume → visible, then a duplicate replay; the payload before and after */
async function replay(runId: string): Promise<{ first: Record<string, unknown>; second: Record<string, unknown> }> {
  const pub = stack('txlookup-publish', ['--scenario', 'happy', '--run-id', runId])
  expect(pub.code, pub.out).toBe(0)
  expect(JSON.parse(pub.out.trim().split('\n').pop() ?? '{}').sync_tx_id).toBe(`tx-sync-pay-${runId}`)
  const c = stack('txlookup-consumer', ['consume', '--max-messages', '3', '--max-idle-seconds', '1'])
  expect(c.code, c.out).toBe(0)
  const first = await until('published tx visible', async () =>
    (await getTx(`tx-sync-pay-${runId}`)).status === 200 ? (await getTx(`tx-sync-pay-${runId}`)).body : undefined,
  )
  const t0 = String(first.event_time)
  await new Promise((r) => setTimeout(r, 1100)) // a later event_time for the replay
  expect(stack('txlookup-publish', ['--scenario', 'duplicate', '--run-id', runId]).code).toBe(0)
  expect(stack('txlookup-consumer', ['consume', '--max-messages', '6', '--max-idle-seconds', '1']).code).toBe(0)
  await drained()
  const second = (await getTx(`tx-sync-pay-${runId}`)).body
  expect(t0).toBeTruthy()
  return { first, second }
}

const azure = (e: EnvJson) =>
  queryAzureMonitor({
    workspaceId: e.workspaceId,
    endpoint: `https://127.0.0.1:${e.ports.laDouble}/v1`,
    query:
      'AppMetrics\n| where Name == "consumer_freshness_seconds"\n| summarize max_freshness=max(Max) by bin(TimeGenerated, 5m)\n| order by TimeGenerated desc',
    timespan: { startTime: new Date(Date.now() - 30 * 60_000), endTime: new Date() },
    credential: { token: e.tokens.monitoring },
    timeoutMs: 10_000,
  })
const promql = (e: EnvJson, token?: string) =>
  queryPrometheus({
    url: `http://127.0.0.1:${e.ports.gateway}`,
    query: 'max(consumer_kafka_lag)',
    start: new Date(Date.now() - 5 * 60_000),
    end: new Date(),
    stepSeconds: 2,
    bearerToken: token,
    timeoutMs: 10_000,
  })
const kind = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof MonitorError ? `${e.kind}:${e.statusCode}` : String(e)),
  )

describe('local environment', { timeout: 300_000 }, () => {
  beforeAll(() => {
    const r = node(['fixtures/local-env/env.ts', 'up'])
    if (r.code !== 0) throw new Error(`env up failed:\n${r.stderr}`)
    process.env.CLOSEOUT_LOCAL_CA_FILE = envJson().caFile
  })

  test('up is idempotent; status reports every component; kubeconfig is HTTPS with a CA and a token', () => {
    const again = node(['fixtures/local-env/env.ts', 'up'])
    expect(again.code).toBe(0)
    expect(again.stderr).not.toMatch(/restarting/)
    const st = node(['fixtures/local-env/env.ts', 'status'])
    expect(st.code).toBe(0)
    for (const c of ['postgresql', 'redis', 'prometheus', 'simulator', 'la-double', 'gateway', 'eventhubs', 'pod tx-lookup-api'])
      expect(st.stdout).toMatch(new RegExp(`^${c}\\s+up`, 'm'))
    const kc = readFileSync(join(ROOT, 'reports/local-env/kubeconfig'), 'utf8')
    expect(kc).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/)
    expect(kc).toContain('certificate-authority-data:')
    expect(kc).toMatch(/token: sim-admin-/)
    expect(kc).not.toContain('insecure-skip-tls-verify')
    const e = envJson()
    for (const k of ['sim', 'api', 'postgres', 'redis', 'prometheus', 'gateway', 'eventhubs', 'laDouble'])
      expect(e.ports[k], k).toBeGreaterThan(0)
    expect(e.tokens.monitoring).toBeTruthy()
  })

  test('the API through its pod port: a seeded tx is 200 with the full record, an unknown id 404; no PII in its log line', async () => {
    const ok = await getTx('tx-seed-001')
    expect(ok.status).toBe(200)
    expect(Object.keys(ok.body).sort()).toEqual([
      'amount',
      'amount_signed',
      'amount_value',
      'data_lag_sec',
      'entry_type',
      'event_time',
      'memo',
      'related_id',
      'related_type',
      'tx_id',
      'version',
      'wallet_id',
    ])
    expect(ok.body.tx_id).toBe('tx-seed-001')
    const nf = await getTx(`tx-unknown-${Date.now()}`)
    expect(nf).toEqual({ status: 404, body: { detail: 'not found' } })
    const health = (await (await fetch(`http://127.0.0.1:${envJson().ports.api}/health`)).json()) as {
      dependencies: Record<string, string>
    }
    expect(health.dependencies).toEqual({ db: 'ok', redis: 'ok' })
  })

  test('the postgres pod’s psql reaches the database and sees the newest ledger row', () => {
    const pg = cluster().namespaces[0].deployments.find((d) => d.name === 'txlookup-postgres')?.containers[0]
    const r = spawnSync(
      'psql',
      ['-U', 'bo', '-d', 'bo', '-At', '-c', 'select tx_id from bo.ledger_entries order by event_time desc limit 1;'],
      { env: { ...process.env, ...pg?.env }, encoding: 'utf8' },
    )
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toMatch(/^tx-/)
  })

  test('probes: db_connectivity_ok and eventhubs_tcp_ok', () => {
    expect(stack('txlookup-probe', ['db']).out).toContain('db_connectivity_ok')
    expect(stack('txlookup-probe', ['tcp', '127.0.0.1', String(envJson().ports.eventhubs)]).out).toContain('eventhubs_tcp_ok')
  })

  test('publish + consume makes the tx visible; a duplicate replay keeps the canonical payload', async () => {
    const { first, second } = await replay(`e2e${Date.now()}`)
    expect(first.amount).toBe('42.50')
    expect(canonical(second)).toEqual(canonical(first))
  })

  test('a PostgreSQL restart under the running consumer loses no event (a dropped connection is retried before the DLQ)', async () => {
    // first the consumer's `run` loop opens its connection, on an event of its own
    const warm = `pgwarm${Date.now()}`
    expect(stack('txlookup-publish', ['--scenario', 'happy', '--run-id', warm]).code).toBe(0)
    await until('warm-up tx consumed', async () => ((await getTx(`tx-sync-pay-${warm}`)).status === 200 ? true : undefined))
    const base = '/usr/lib/postgresql'
    const pgBin = join(base, readdirSync(base).sort().pop() as string, 'bin')
    await stopPostgres(join(ROOT, 'reports/local-env'), pgBin)
    const up = node(['fixtures/local-env/env.ts', 'up'])
    expect(up.code, up.stderr).toBe(0)
    // the consumer's `run` loop still holds its connection to the old server: the next write hits it
    const runId = `pgrestart${Date.now()}`
    expect(stack('txlookup-publish', ['--scenario', 'happy', '--run-id', runId]).code).toBe(0)
    const got = await until('tx consumed by the running consumer', async () =>
      (await getTx(`tx-sync-pay-${runId}`)).status === 200 ? true : undefined,
    )
    expect(got).toBe(true)
  })

  test('the Log Analytics double answers the plan’s KQL through the real client; PromQL through the gateway', async () => {
    const e = envJson()
    const r = await until('freshness samples', async () => {
      const x = await azure(e)
      return x.rows.length ? x : undefined
    })
    expect(r.columns).toEqual(['TimeGenerated', 'max_freshness'])
    expect(Number(r.rows[0].max_freshness)).toBeLessThanOrEqual(5)
    // the PostgreSQL-restart test just before may leave the consumer a few events behind: wait (bounded)
    // until the newest sample says it caught up, rather than assume the whole window is at zero
    const newest = (rows: Array<Record<string, unknown>>) =>
      [...rows].sort((a, b) => String(a.TimeGenerated).localeCompare(String(b.TimeGenerated))).pop()
    const p = await until(
      'Prometheus samples with consumer lag back at 0',
      async () => {
        const x = await promql(e, e.tokens.monitoring)
        return x.rows.length && newest(x.rows)?.value === 0 ? x : undefined
      },
      60_000,
    )
    expect(p.rows.every((x) => typeof x.value === 'number' && Number.isFinite(x.value))).toBe(true)
    expect(await kind(promql(e))).toBe('unauthorized:401')
  })

  test('a port held by something that is not this checkout’s environment is named, with what to do; nothing starts', {
    timeout: 60_000,
  }, async () => {
    // another program (say a second checkout's PostgreSQL) on one of our ports. The base is picked now,
    // among ports no one holds (a fixed base may be another checkout's, and if some of its ports were this
    // checkout's own environment's, env up would count them as ours and go on): every port env up checks
    // is probed free, then the squatter takes base + 93 (eventhubs).
    const base = await pickFreeBase()
    const port = base + 93
    const squatter = spawn(
      process.execPath,
      ['-e', `const s = require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('listening'))`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
    try {
      await new Promise<void>((res, rej) => {
        squatter.stdout.once('data', () => res())
        squatter.once('exit', () => rej(new Error(`the squatter could not listen on ${port}`)))
      })
      // the port check comes before anything starts: a few seconds at most, never a long wait
      const r = node(['fixtures/local-env/env.ts', 'up'], { CLOSEOUT_PORT_BASE: String(base) }, 30_000)
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).toContain(`eventhubs port ${port} is held by pid ${squatter.pid}`)
      expect(r.stderr).toContain('CLOSEOUT_PORT_BASE=')
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(await open(base + 443)).toBe(false) // the simulator of that base never started
      expect(envJson().ports.sim).not.toBe(base + 443) // and the running environment's state is untouched
    } finally {
      squatter.kill()
    }
  })

  test('an unknown fault is a usage error listing the valid ones', () => {
    const r = node(['fixtures/local-env/env.ts', 'up', '--fault', 'disk-full'])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('unknown fault "disk-full"')
    expect(r.stderr).toContain('consumer-crashloop')
  })

  test('faults non-idempotent + monitoring-forbidden: restart, replay changes the payload, 403 on both monitoring paths; and back', async () => {
    const r = node(['fixtures/local-env/env.ts', 'up', '--fault', 'non-idempotent', '--fault', 'monitoring-forbidden'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/restarting/)
    expect(JSON.parse(readFileSync(join(ROOT, 'reports/local-env/faults.json'), 'utf8'))).toEqual([
      'monitoring-forbidden',
      'non-idempotent',
    ])
    const e = envJson()
    expect(await kind(azure(e))).toBe('forbidden:403')
    expect(await kind(promql(e, e.tokens.monitoring))).toBe('forbidden:403')
    const { first, second } = await replay(`e2eni${Date.now()}`)
    expect(canonical(second)).not.toEqual(canonical(first))
    expect(second.amount).toBe('85.00')
    expect(node(['fixtures/local-env/env.ts', 'up']).code).toBe(0)
    expect(await kind(azure(envJson()))).toBe('ok')
  })

  test('a monitoring-only fault restarts the double and the gateway, not the simulator; AppMetrics rows are in the JSONL', async () => {
    const pid = (n: string) => readFileSync(join(ROOT, 'reports/local-env/pids', `${n}.pid`), 'utf8').trim()
    const before = { simulator: pid('simulator'), la: pid('la-double'), prometheus: pid('prometheus') }
    const r = node(['fixtures/local-env/env.ts', 'up', '--fault', 'monitoring-forbidden'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/restarting la-double, gateway$/m)
    expect(pid('simulator')).toBe(before.simulator)
    expect(pid('prometheus')).toBe(before.prometheus)
    expect(pid('la-double')).not.toBe(before.la)
    expect(await kind(azure(envJson()))).toBe('forbidden:403')
    // the double samples the real pods even while it refuses queries, and keeps a JSONL copy
    const rows = await until('JSONL rows', async () => {
      const lines = readFileSync(join(ROOT, 'reports/local-env/appmetrics.jsonl'), 'utf8').split('\n').filter(Boolean)
      const parsed = lines.map((l) => JSON.parse(l) as { Name: string; Max: number; TimeGenerated: string })
      return parsed.some((x) => x.Name === 'consumer_freshness_seconds') ? parsed : undefined
    })
    expect(rows.find((x) => x.Name === 'consumer_kafka_lag')).toMatchObject({
      Max: expect.any(Number),
      TimeGenerated: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    const back = node(['fixtures/local-env/env.ts', 'up'])
    expect(back.code, back.stderr).toBe(0)
    expect(pid('simulator')).toBe(before.simulator)
    expect(await kind(azure(envJson()))).toBe('ok')
  })

  test('down stops every process and leaves no listener; status then fails; up brings it back', async () => {
    const ports = Object.values(envJson().ports).filter((p): p is number => typeof p === 'number')
    const d = node(['fixtures/local-env/env.ts', 'down'])
    expect(d.code, d.stderr).toBe(0)
    for (const p of ports) expect(await open(p), `port ${p}`).toBe(false)
    expect(node(['fixtures/local-env/env.ts', 'status']).code).toBe(1)
    expect(node(['fixtures/local-env/env.ts', 'up']).code).toBe(0)
  })
})
