// Diagnostics after a failed gate have their own budget inside the gate's deadline: a call that does
// not answer is abandoned when the budget is spent, and every call is in the gate log — made, failed,
// or recorded as skipped — never silent.

import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { GateEvidence } from '../../helpers/evidence.ts'
import { collectDiagnostics } from '../../helpers/fixtures/diagnostics.ts'
import { Redactor } from '../../helpers/redact.ts'
import { startTinyKube } from './tiny-kube.ts'

describe('diagnostics', () => {
  test('an API server that never answers: the budget abandons the call, the rest is recorded as skipped', async () => {
    const evidence = new GateEvidence({
      gateId: 'g',
      suite: 'closeout',
      file: join(mkdtempSync(join(tmpdir(), 'diag-')), 'g.log'),
      owner: 'ops',
      redactor: new Redactor(),
    })
    const api = await startTinyKube(() => undefined) // accepts, never answers
    await collectDiagnostics({
      kube: () => api.kube.readOnly(),
      evidence,
      namespace: 'txlookup',
      touched: new Set(['deploy/txlookup-consumer']),
      tailLines: 10,
      budgetMs: 300,
    })
    const steps = evidence.records.map((r) => `${r.step}: ${r.result}`)
    await api.close()
    expect(steps[0]).toBe('diagnostics: deployment txlookup-consumer status: fail')
    // the request's own deadline is the budget that was left: cut by the client, named
    expect(evidence.records[0].stderr).toMatch(/no answer|within \d+ ms|budget of 300 ms/)
    expect(steps.slice(1)).toEqual([
      'diagnostics: logs of the touched pods (skipped): skipped',
      'diagnostics: recent namespace events (skipped): skipped',
    ])
    expect(readFileSync(evidence.file, 'utf8')).toContain('command: kubectl -n txlookup get deploy txlookup-consumer -o json')
  })

  test('a healthy API: status, pods, logs and events are each a recorded step with its kubectl line', async () => {
    const evidence = new GateEvidence({
      gateId: 'g',
      suite: 'closeout',
      file: join(mkdtempSync(join(tmpdir(), 'diag-')), 'g.log'),
      owner: 'ops',
      redactor: new Redactor(),
    })
    const pod = { metadata: { name: 'c-1' }, spec: { containers: [{ name: 'consumer' }] } }
    const api = await startTinyKube((q) => {
      const url = q.url ?? ''
      if (url.includes('/log')) return 'line 1\nline 2'
      if (url.includes('/pods')) return { kind: 'PodList', metadata: {}, items: [pod] }
      if (url.includes('/events')) {
        const e = {
          metadata: { name: 'e' },
          type: 'Warning',
          reason: 'BackOff',
          involvedObject: { kind: 'Pod', name: 'c-1' },
          message: 'x',
        }
        return { kind: 'EventList', metadata: {}, items: [e] }
      }
      return {
        kind: 'Deployment',
        apiVersion: 'apps/v1',
        metadata: { name: 'c', generation: 2 },
        spec: { selector: { matchLabels: { app: 'c' } } },
        status: {},
      }
    })
    await collectDiagnostics({
      kube: () => api.kube.readOnly(),
      evidence,
      namespace: 'txlookup',
      touched: new Set(['deploy/c']),
      tailLines: 10,
      budgetMs: 10_000,
    })
    await api.close()
    // the lines of the requests the client really sent (the server saw one request per line)
    expect(evidence.records.map((r) => r.command)).toEqual([
      'kubectl -n txlookup get deploy c -o json',
      'kubectl -n txlookup get deploy c -o json\nkubectl -n txlookup get pods -l app=c -o json',
      'kubectl -n txlookup get pods -o json',
      'kubectl -n txlookup logs c-1 -c consumer --tail=10',
      'kubectl -n txlookup get events -o json',
    ])
    expect(api.seen.length).toBeGreaterThanOrEqual(5)
    expect(evidence.records[3].stdout).toBe('line 1\nline 2')
  })
})
