// OTLP/HTTP and webhook receivers on local endpoints get what they should; the webhook URL never
// reaches what the exporter prints.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportRun } from '../../helpers/export-run.ts'
import { detectFormat, notify, redactNotifyArgs } from '../../helpers/notify.ts'
import { buildSpans, exportOtel, type OtlpSpan, tracesEndpoint } from '../../helpers/otel.ts'

interface Received {
  url: string
  headers: Record<string, string | string[] | undefined>
  body: unknown
}
let server: Server
let base: string
const received: Received[] = []
let answer = 200

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
      res.writeHead(answer, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

const bundle = mkdtempSync(join(tmpdir(), 'otel-'))
writeFileSync(
  join(bundle, 'evidence.jsonl'),
  [
    {
      gate: 'smoke-200',
      suite: 'closeout',
      step: 'GET /admin/tx/tx-1 (expect 200)',
      kind: 'http',
      command: 'GET /admin/tx/tx-1',
      target: 'http://127.0.0.1/admin/tx/tx-1',
      startedAt: '2026-12-01T13:00:01.000Z',
      finishedAt: '2026-12-01T13:00:01.020Z',
      httpStatus: 500,
      result: 'fail',
    },
    {
      gate: 'baseline',
      suite: 'closeout',
      step: 'namespace txlookup',
      kind: 'k8s',
      startedAt: '2026-12-01T13:00:00.100Z',
      finishedAt: '2026-12-01T13:00:00.140Z',
      exitCode: 0,
      result: 'info',
    },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n',
)
const summary = {
  suite: 'closeout',
  runId: '20261201_130000',
  target: 'local (fixtures/targets/local.yaml)',
  startedAt: '2026-12-01T13:00:00.000Z',
  finishedAt: '2026-12-01T13:00:04.000Z',
  decision: 'NO_GO',
  gates: [
    { id: 'baseline', suite: 'closeout', status: 'passed', classification: null, reason: null, durationMs: 60 },
    {
      id: 'smoke-200',
      suite: 'closeout',
      status: 'failed',
      classification: 'SMOKE_FAILED',
      reason: 'GET /admin/tx/tx-1 answered 500, expected 200',
      durationMs: 30,
    },
  ],
  classifications: ['SMOKE_FAILED'],
  retry: { owner: 'release-engineering', retryAtUtc: '2026-12-01T17:00:00Z', unblockCriteria: ['SMOKE_FAILED: …'] },
  evidenceDir: bundle,
  bundles: { closeout: bundle },
}
type Attr = { key: string; value: { stringValue?: string; intValue?: string } }
const attr = (s: OtlpSpan | { attributes: Attr[] }, k: string) => {
  const v = (s.attributes as Attr[]).find((a) => a.key === k)?.value
  return v?.stringValue ?? v?.intValue
}

describe('OpenTelemetry export', () => {
  it('a span per run, gate and step with CI/CD attributes, steps parented to their gate, gates to the run', () => {
    const spans = buildSpans(summary, { TRACEPARENT: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })
    expect(spans).toHaveLength(1 + 2 + 2)
    const [run, ...rest] = spans
    expect(run.traceId).toBe('0af7651916cd43dd8448eb211c80319c')
    expect(run.parentSpanId).toBe('b7ad6b7169203331')
    expect(attr(run, 'cicd.pipeline.result')).toBe('failure')
    expect(attr(run, 'cicd.pipeline.run.id')).toBe('20261201_130000')
    const smoke = rest.find((s) => s.name === 'closeout/smoke-200')!
    expect(smoke.parentSpanId).toBe(run.spanId)
    expect(attr(smoke, 'cicd.pipeline.task.run.result')).toBe('failure')
    expect(attr(smoke, 'closeout.classification')).toBe('SMOKE_FAILED')
    expect(attr(smoke, 'closeout.runbook.step')).toBe('F3-4 Task 3 Step 2; F3-4 Task 3 Step 3')
    expect(smoke.status.code).toBe(2)
    const step = rest.find((s) => s.name.startsWith('GET /admin/tx'))!
    expect(step.parentSpanId).toBe(smoke.spanId)
    expect(attr(step, 'http.response.status_code')).toBe('500')
    expect(step.startTimeUnixNano).toBe(`${Date.parse('2026-12-01T13:00:01.000Z')}000000`)
  })

  it('the traces endpoint follows the OTLP exporter variables', () => {
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })).toBe('http://c:4318/v1/traces')
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x' })).toBe(
      'http://t/x',
    )
    expect(tracesEndpoint({})).toBeUndefined()
  })

  it('a local OTLP/HTTP receiver gets the spans as OTLP JSON on /v1/traces, with the configured headers', async () => {
    received.length = 0
    const r = await exportOtel(summary, {
      OTEL_EXPORTER_OTLP_ENDPOINT: base,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k123',
      OTEL_SERVICE_NAME: 'closeout-ci',
    })
    expect(r).toEqual({ endpoint: `${base}/v1/traces`, spans: 5 })
    expect(received).toHaveLength(1)
    expect(received[0].url).toBe('/v1/traces')
    expect(received[0].headers['content-type']).toBe('application/json')
    expect(received[0].headers['x-api-key']).toBe('k123')
    const body = received[0].body as { resourceSpans: { resource: { attributes: Attr[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] }
    expect(attr(body.resourceSpans[0].resource, 'service.name')).toBe('closeout-ci')
    const spans = body.resourceSpans[0].scopeSpans[0].spans
    expect(spans.map((s) => s.name)).toContain('closeout/smoke-200')
    expect(spans.every((s) => /^[0-9a-f]{32}$/.test(s.traceId) && /^[0-9a-f]{16}$/.test(s.spanId))).toBe(true)
  })

  it('no endpoint: nothing is sent', async () => {
    received.length = 0
    expect(await exportOtel(summary, {})).toBeUndefined()
    expect(received).toHaveLength(0)
  })
})

describe('notifications', () => {
  it('detects Slack and Teams by host; an unknown host needs --notify-format', () => {
    expect(detectFormat('https://hooks.slack.com/services/T/B/X')).toBe('slack')
    expect(detectFormat('https://contoso.webhook.office.com/webhookb2/x')).toBe('teams')
    expect(detectFormat('https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=S')).toBe('teams')
    expect(() => detectFormat('https://example.test/hook?token=SECRET')).toThrow(/add --notify-format slack\|teams/)
    expect(() => detectFormat('https://example.test/hook?token=SECRET')).not.toThrow(/SECRET/)
  })

  it('a Slack receiver gets the decision, the failing gate with its class, retry and links', async () => {
    received.length = 0
    answer = 200
    const r = await notify(`${base}/services/T000/B000/SECRETPATH`, summary, {
      format: 'slack',
      env: { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '42' },
    })
    expect(r).toEqual({ format: 'slack', status: 200 })
    const body = received[0].body as { text: string; blocks: { text?: { text: string }; elements?: { text: string }[] }[] }
    expect(body.text).toBe('closeout closeout: NO_GO')
    const text = JSON.stringify(body.blocks)
    expect(text).toContain('closeout/smoke-200: FAILED SMOKE_FAILED')
    expect(text).toContain('*Retry owner:* release-engineering')
    expect(text).toContain('<https://github.com/o/r/actions/runs/42|CI run>')
  })

  it('a Teams workflow receiver gets an Adaptive Card with the facts and the failing gate', async () => {
    received.length = 0
    await notify(`${base}/workflows/x/triggers/manual/paths/invoke?sig=SECRETSIG`, summary, { format: 'teams', env: {} })
    const body = received[0].body as {
      type: string
      attachments: {
        contentType: string
        content: { type: string; body: { type: string; text?: string; facts?: { title: string; value: string }[] }[] }
      }[]
    }
    expect(body.type).toBe('message')
    expect(body.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive')
    const card = body.attachments[0].content
    expect(card.type).toBe('AdaptiveCard')
    expect(card.body.find((b) => b.type === 'FactSet')!.facts).toContainEqual({ title: 'Decision', value: 'NO_GO' })
    expect(card.body.some((b) => b.text?.includes('closeout/smoke-200: FAILED SMOKE_FAILED'))).toBe(true)
  })

  it('the webhook URL never reaches an error or the printed export lines, and a failed post does not throw out of exportRun', async () => {
    answer = 403
    const url = `${base}/services/T/B/SECRETPATH`
    await expect(notify(url, summary, { format: 'slack' })).rejects.toThrow(/the Slack webhook answered HTTP 403 \(the URL is not shown/)
    const lines = await exportRun(summary, { notifyUrl: url, notifyFormat: 'slack', env: {} })
    expect(lines.join('\n')).not.toMatch(/SECRETPATH|127\.0\.0\.1/)
    expect(lines).toEqual([
      'notify: the Slack webhook answered HTTP 403 (the URL is not shown; check it is current and the workflow is on)',
    ])
    const down = await exportRun(summary, { notifyUrl: 'http://127.0.0.1:1/hook/SECRETPATH', notifyFormat: 'teams', env: {} })
    expect(down.join('\n')).not.toMatch(/SECRETPATH/)
    answer = 200
    expect(redactNotifyArgs(['--tag', 'closeout', '--notify', url, `--notify=${url}`])).toEqual([
      '--tag',
      'closeout',
      '--notify',
      '***',
      '--notify=***',
    ])
  })
})
