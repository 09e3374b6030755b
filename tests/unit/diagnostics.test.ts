// Diagnostics after a failed gate have their own budget inside the gate's deadline: a call that does
// not answer is abandoned when the budget is spent, and every call is in the gate log — made, failed,
// or recorded as skipped — never silent.

import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { GateEvidence } from '../../helpers/evidence.ts'
import { collectDiagnostics } from '../../helpers/fixtures/diagnostics.ts'
import type { Kube } from '../../helpers/kube.ts'
import { Redactor } from '../../helpers/redact.ts'

const never = () => new Promise<never>(() => {})

describe('diagnostics', () => {
  test('an API server that never answers: the budget abandons the call, the rest is recorded as skipped', async () => {
    const evidence = new GateEvidence({
      gateId: 'g',
      suite: 'closeout',
      file: join(mkdtempSync(join(tmpdir(), 'diag-')), 'g.log'),
      owner: 'ops',
      redactor: new Redactor(),
    })
    const kube = {
      contextName: 'unit',
      readDeployment: never,
      podsOfDeployment: never,
      listPods: never,
      podLogs: never,
      listEvents: never,
    } as unknown as Kube
    await collectDiagnostics({
      kube: () => kube,
      evidence,
      namespace: 'txlookup',
      touched: new Set(['deploy/txlookup-consumer']),
      tailLines: 10,
      budgetMs: 300,
    })
    const steps = evidence.records.map((r) => `${r.step}: ${r.result}`)
    expect(steps[0]).toBe('diagnostics: deployment txlookup-consumer status: fail')
    expect(evidence.records[0].stderr).toMatch(/diagnostics budget of 300 ms used up/)
    expect(steps.slice(1)).toEqual([
      'diagnostics: logs of the touched pods (skipped): skipped',
      'diagnostics: recent namespace events (skipped): skipped',
    ])
    expect(readFileSync(evidence.file, 'utf8')).toContain('command: kubectl -n txlookup get deploy txlookup-consumer -o wide')
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
    const kube = {
      contextName: 'unit',
      readDeployment: async () => ({ metadata: { generation: 2 }, spec: { selector: { matchLabels: { app: 'c' } } }, status: {} }),
      podsOfDeployment: async () => [pod],
      listPods: async () => [pod],
      podLogs: async () => 'line 1\nline 2',
      listEvents: async () => [{ type: 'Warning', reason: 'BackOff', involvedObject: { kind: 'Pod', name: 'c-1' }, message: 'restarting' }],
    } as unknown as Kube
    await collectDiagnostics({
      kube: () => kube,
      evidence,
      namespace: 'txlookup',
      touched: new Set(['deploy/c']),
      tailLines: 10,
      budgetMs: 10_000,
    })
    expect(evidence.records.map((r) => r.command)).toEqual([
      'kubectl -n txlookup get deploy c -o wide',
      'kubectl -n txlookup get pods -l <selector of deploy/c> -o wide',
      'kubectl -n txlookup get pods -o wide',
      'kubectl -n txlookup logs c-1 -c consumer --tail=10',
      'kubectl -n txlookup get events --sort-by=.lastTimestamp',
    ])
    expect(evidence.records[3].stdout).toBe('line 1\nline 2')
  })
})
